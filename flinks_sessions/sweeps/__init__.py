"""Work over many sessions, in one place: what a sweep selects, how it runs, how it reports.

- :mod:`~flinks_sessions.sweeps.selection`: which sessions (filters over ``PaymentSession.objects.open()``,
  ``due_for_retry()``, ids from a command line);
- :mod:`~flinks_sessions.sweeps.run`: cancel, sync or enqueue them, counted into a summary;
- :mod:`~flinks_sessions.sweeps.summary` and :mod:`~flinks_sessions.sweeps.progress`: the counts, their wording,
  the progress bar;
- :mod:`~flinks_sessions.sweeps.command`: the base of the ``flinks_cancel_sessions`` and
  ``flinks_sync_sessions`` commands;
- :mod:`~flinks_sessions.sweeps.tasks`: the sweeps as scheduled tasks.

The pool that calls Flinks is the services' scheduler (``services/pipeline.py``): ``services.cancel_sessions``
is public API and the services may not import this layer, so the one scheduler lives beside the engine.
"""
