/*
 * The cancel claim protocol of flinks_sessions.services, for SPIN.  How to run it, what each name maps to in
 * the engine, and what was proved: docs/model/README.md.  scripts/check-model.sh runs every check.
 *
 * One session row, Flinks, and the triggers that race over them:
 *   Beacon  request_cancel (a graced exit: records the intent), then the task     crashes anywhere
 *   Admin   cancel_session                                                     crashes anywhere
 *   Sweep   flinks_cancel_sessions --retry-failed, run by cron until no intent  crashes, cron starts it again
 *   Shopper the shopper pays at Flinks: its Completed webhook; later EFT0302 -> EFT0301, which a sync learns
 *   Sync    GET /status, applied later under the row lock
 *   Resume  withdraw_cancel (the page came back from the back/forward cache)
 *   Clock   a claim's TTL passes: at any moment, whether its worker is dead, stalled or merely slow
 * Every atomic block is one database transaction (or one HTTP exchange); interleavings happen between them.
 * Claim tokens: 1 the beacon's task, 2 the admin, 3 and up the sweep's runs (a restarted sweep gets a new one).
 *
 *   -DBROKEN_FINISH  the finish stores its transition without re-checking the claim and the claimed state;
 *   -DBROKEN_TTL     a claim never expires: two deliberately broken engines the checks must reject with a trail.
 *   -DNO_BEACON -DNO_ADMIN -DNO_SHOPPER -DNO_SYNC -DNO_RESUME  leave a trigger out (smaller configurations).
 *   -DCRASHES=n -DERRORS=n  bounds (defaults 1 and 1): worker crashes, and Flinks failures (errors, 404s).
 */

#ifndef CRASHES
#define CRASHES 1
#endif
#ifndef ERRORS
#define ERRORS 1
#endif

mtype:status = { Initiated, InProgress, Completed, Failed, Cancelled, Expired };  /* status.Status */
mtype:details = { NoDetails, EFT0301, EFT0302, EFT0501 };                         /* status.DETAIL_* */
mtype:outcome = { cancelled, already_terminal, not_found, failed, pending, withdrawn }; /* services.CancelOutcome */
mtype:answer = { A_cancelled, A_ended, A_not_found, A_failed };                   /* cancel._Said, engine.Reply */
mtype:apply = { applied, duplicate, stale };                                      /* ApplyOutcome (known statuses) */

#define TERMINAL(s) (s == Completed || s == Failed || s == Cancelled || s == Expired)

/* The row. Each column the protocol reads or writes is named in a "column:" note (tests/model checks them). */
mtype:status st = InProgress;   /* column: status cancelled_at remote_status */
mtype:details det = NoDetails;  /* column: status_details */
bool intent;                    /* column: cancel_requested_at cancel_source cancel_reason */
bool graced;                    /* the intent is a graced beacon's (cancel_reason GRACED_REASON): a resume may take it back */
byte claim;                     /* column: cancel_claim (0: none, else the holder's token) */
bool expired;                   /* column: cancel_claimed_at (older than claim_ttl()) */
bool notfound;                  /* column: not_found_at */
bool cfailed;                   /* column: cancel_failed_at (a failed cancel call; cleared with the intent) */
#define OPEN (!TERMINAL(st) && !notfound)

/* Flinks' side: its own state of the session, and what it has been asked. */
mtype:status remote = InProgress;
mtype:details rdet = NoDetails;
byte errors = ERRORS;           /* failures Flinks may still give: a refused call, a lost answer, a 404 */
byte crashes = CRASHES;         /* workers that may still die */

/* Observers: they only count, the protocol never reads them. */
byte ended;                     /* stored transitions into a terminal state */
byte corrected;                 /* stored EFT0302 -> EFT0301 corrections */
byte stored;                    /* every stored transition (an audit row each) */
byte signalled;                 /* session_status_changed signals sent */
byte lost;                      /* transitions whose worker died between commit and signal */
bool reported;                  /* a CancelOutcome.cancelled result was returned */
bool accepted;                  /* Flinks acted on a POST /cancel */
bool repeated;                  /* a POST /cancel was sent after Flinks had acted on one */
bool took_back;                 /* withdraw_cancel took an intent back */
bool revived;                   /* a task or sweep that read the intent before the withdraw cancelled anyway */
bool alive[4 + CRASHES];        /* by claim token: is that worker still running? */
byte finished, finite;          /* processes done, of those that end (all but Sweep and Clock) */

/* transitions.decide(): what a report of (ns, nd) means for a row in (cur, curd). */
inline decide(cur, curd, ns, nd, verdict) {
  if
  :: TERMINAL(cur) && cur == Completed && curd == EFT0302 && ns == Completed && nd == EFT0301 -> verdict = applied
  :: TERMINAL(cur) && !(cur == Completed && curd == EFT0302 && ns == Completed && nd == EFT0301) ->
       verdict = (ns == cur && (nd == NoDetails || nd == curd) -> duplicate : stale)
  :: !TERMINAL(cur) && ns == cur -> verdict = duplicate
  :: !TERMINAL(cur) && ns != cur -> verdict = (cur == InProgress && ns == Initiated -> stale : applied)
  fi
}

/* transitions.write_transitions(): the columns, the audit row, a signal owed after commit. */
inline store(ns, nd) {
  assert(!TERMINAL(st) || (st == Completed && det == EFT0302 && ns == Completed && nd == EFT0301));  /* sinks */
  if
  :: TERMINAL(st) -> corrected++
  :: else -> ended++
  fi;
  assert(ended <= 1 && corrected <= 1);                                  /* one transition (+ the correction) */
  st = ns; det = nd; stored++; owed++;
  printf("TRAIL stored %e %e\n", ns, nd);
  if
  :: TERMINAL(ns) -> claim = 0; expired = false                         /* a terminal state ends any claim */
  :: else
  fi
}

/* transaction.on_commit(announce): the signal of each transition this worker stored. */
inline announce() {
  signalled = signalled + owed; owed = 0;
  assert(signalled + lost <= stored)
}

/* A worker may die before any of its steps: what it committed stays, its claim stays until the TTL passes,
 * and the signals it owed are lost. Written as one more choice of the step it interrupts. */
#define CRASH \
  atomic { crashes > 0 -> crashes--; lost = lost + owed; owed = 0; alive[me] = false; printf("TRAIL worker %d dies\n", me) }; \
  goto crashed

/* The finish releases our claim, only ours (after the TTL it may belong to another worker). */
inline release() {
  if
  :: claim == me -> claim = 0; expired = false
  :: else
  fi
}

#ifdef BROKEN_TTL
#define CLAIM_EXPIRED false                                       /* a claim that never expires */
#else
#define CLAIM_EXPIRED expired                                     /* cancel_claimed_at < now - claim_ttl() */
#endif

#ifdef BROKEN_INTENT
#define INTENT_STANDS true                                        /* the claim forgets if_requested */
#else
#define INTENT_STANDS (intent || !if_requested)                   /* _take's cancel_requested_at IS NOT NULL */
#endif

#ifdef BROKEN_FINISH
#define STILL_OURS true
#else
#define STILL_OURS (claim == me && st == seen && det == seend)   /* _store_groups' UPDATE ... WHERE */
#endif

/* services.cancel (_Cancel on engine.Engine): claim -> call -> finish. `if_requested`: the trigger acts on an intent it read
 * earlier (the beacon's task, the retry sweep), so its claim also requires the intent to stand.
 * What a worker read dies with its call (the last step resets it, so runs differ only in what matters). */
inline cancel_session(if_requested) {
  /* 1. claim (_take): one conditional UPDATE, the intent written only if none, a cancel_attempt row. */
  atomic {
    if
    :: OPEN && (claim == 0 || CLAIM_EXPIRED) && INTENT_STANDS ->
         revived = revived || (if_requested && took_back && !intent);
         claim = me; expired = false; graced = intent && graced; intent = true; seen = st; seend = det;
         printf("TRAIL worker %d claims the session (status %e)\n", me, st)
    :: else ->
         result = (TERMINAL(st) -> already_terminal : (notfound -> not_found :
                  (if_requested && !intent -> withdrawn : pending))); goto unclaimed
    fi
  }
  /* 2. call: POST /cancel (then GET /status after a 400); HTTP only, as slow as it likes. */
  if
  :: CRASH
  :: atomic {
       repeated = repeated || accepted;
       if
       :: errors > 0 -> errors--; ans = A_failed                                   /* refused, or no answer */
       :: errors > 0 && !TERMINAL(remote) ->                                     /* acted on, answer lost */
            errors--; accepted = true; remote = Cancelled; rdet = EFT0501; ans = A_failed
       :: errors > 0 -> errors--; ans = A_not_found                               /* 404 */
       :: !TERMINAL(remote) ->
            accepted = true; remote = Cancelled; rdet = EFT0501; ans = A_cancelled; as = remote; ad = rdet
       :: TERMINAL(remote) -> ans = A_ended; as = remote; ad = rdet                /* 400, then /status */
       fi;
       printf("TRAIL worker %d: POST /cancel answered %e (Flinks: %e)\n", me, ans, remote)
     }
  fi;
  /* 3. finish: one transaction (_store_groups, else _store_one under the row lock); releases our claim. */
  if
  :: CRASH                                                                 /* with Flinks' answer in flight */
  :: atomic {
       if
       :: ans == A_cancelled || ans == A_ended ->
            decide(seen, seend, as, ad, verdict);
            if
            :: verdict == applied && STILL_OURS -> store(as, ad)               /* the conditional UPDATE */
            :: else ->                                                          /* _store_one: lock, apply_locked() */
                 decide(st, det, as, ad, verdict);
                 if
                 :: verdict == applied -> store(as, ad)
                 :: else
                 fi;
                 release()
            fi;
            assert(st == as);                                                   /* Flinks' answer is stored */
            result = (ans == A_cancelled && st == Cancelled -> cancelled : (TERMINAL(st) -> already_terminal : failed))
       :: ans == A_not_found ->
            notfound = notfound || !TERMINAL(st); release(); result = not_found
       :: ans == A_failed ->
            release(); cfailed = cfailed || !TERMINAL(st);       /* record_failure(); attempt_count: not modelled */
            result = (TERMINAL(st) -> already_terminal : failed)
       fi;
       assert(!(reported && result == cancelled));              /* "cancelled" means this call ended it */
       reported = reported || result == cancelled;
       seen = 0; seend = 0; as = 0; ad = 0; ans = 0; verdict = 0
     }
  fi;
  /* on_commit: the signals, unless the worker dies first. */
  if
  :: CRASH
  :: atomic { announce(); result = 0 }
  fi;
  goto called;
unclaimed:
  result = 0;
called:
  skip
}

#define WORKER_LOCALS \
  mtype:status seen, as; mtype:details seend, ad; mtype:answer ans; mtype:apply verdict; \
  mtype:outcome result; byte owed

proctype Beacon(byte me) {
  WORKER_LOCALS; bool queued;
  atomic {                                                       /* request_cancel(reason=GRACED_REASON) */
    alive[me] = true; queued = !TERMINAL(st) && !intent; graced = graced || queued; intent = intent || queued
  }
  if
  :: queued && intent && !TERMINAL(st) ->                        /* the task: has_pending_cancel, then cancel */
       printf("TRAIL the beacon's task reads the intent\n");
       cancel_session(true)
  :: else
  fi;
crashed:
  finished++
}

proctype Admin(byte me) {
  WORKER_LOCALS;
  alive[me] = true;
  cancel_session(false);
crashed:
  finished++
}

proctype Sweep(byte me) {
  WORKER_LOCALS;
restart:
  alive[me] = true;                                                        /* a new run, a new claim token */
  do
  :: intent && OPEN && (claim == 0 || CLAIM_EXPIRED) ->                    /* due_for_retry(), then claim */
       printf("TRAIL the sweep selects the session\n");
       cancel_session(true)
  :: !(intent && OPEN) && finished == finite -> break                      /* nothing left and nobody will add */
  od;
  goto done;
crashed:
  me++; goto restart;                                                      /* cron starts the sweep again */
done:
  finished++
}

/* The shopper pays at Flinks, which sends one Completed webhook (applied under the row lock by
 * apply_report, as webhooks.processing does) and later turns EFT0302 into EFT0301 without one (a sync learns it). */
proctype Shopper() {
  byte owed; mtype:apply verdict; mtype:status ws; mtype:details wd;
  if
  :: atomic { !TERMINAL(remote) -> remote = Completed; rdet = EFT0302; ws = remote; wd = rdet }
       atomic { decide(st, det, ws, wd, verdict); if :: verdict == applied -> store(ws, wd) :: else fi; announce() };
       if
       :: atomic { remote == Completed && rdet == EFT0302 -> rdet = EFT0301 }
       :: true
       fi
  :: true                                                                  /* or never pays */
  fi;
  d_step { finished++; verdict = 0; ws = 0; wd = 0 }
}

/* services.sync: GET /status with no lock held, then apply_locked() whatever happened meanwhile. */
proctype Sync() {
  byte owed; mtype:apply verdict; mtype:status ss; mtype:details sd;
  atomic { ss = remote; sd = rdet }
  atomic { decide(st, det, ss, sd, verdict); if :: verdict == applied -> store(ss, sd) :: else fi; announce() };
  d_step { finished++; verdict = 0; ss = 0; sd = 0 }
}

/* services.intent.withdraw_cancel(graced_only=True): take a graced intent back while no claim is held. */
proctype Resume() {
  atomic {
    if
    :: intent && graced && claim == 0 && !TERMINAL(st) ->
         intent = false; graced = false; cfailed = false; took_back = true;
         printf("TRAIL resume withdraws the intent\n")
    :: else
    fi
  }
  finished++
}

/* claim_ttl() passes: any claim, whoever holds it, may become old enough to be taken over. */
proctype Clock() {
end:
  do
  :: atomic { claim != 0 && !expired -> expired = true; printf("TRAIL the claim of worker %d passes its TTL\n", claim) }
  od
}

init {
  atomic {
    run Sweep(3); run Clock();
#ifndef NO_BEACON
    run Beacon(1); finite++;
#endif
#ifndef NO_ADMIN
    run Admin(2); finite++;
#endif
#ifndef NO_SHOPPER
    run Shopper(); finite++;
#endif
#ifndef NO_SYNC
    run Sync(); finite++;
#endif
#ifndef NO_RESUME
    run Resume(); finite++;
#endif
  }
  /* Every process but the clock has ended: what must hold of every run that ends. */
  (finished == finite + 1);                    /* and the sweep after them */
  assert(signalled + lost == stored);           /* every transition signalled once, unless its worker died */
  assert(!intent || TERMINAL(st) || notfound);  /* every standing cancel intent ended the session */
  assert(claim == 0 || notfound);               /* no claim is left, but on a session Flinks does not know */
  assert(!TERMINAL(remote) || st == remote || notfound || took_back)  /* the row agrees with Flinks (see README) */
}

/* Properties checked with -a (-f for liveness); see scripts/check-model.sh. */
#define ORPHAN (claim != 0 && !alive[claim])
ltl orphan_claim_cleared { [] (ORPHAN -> <> (claim == 0 || !OPEN)) }
ltl cancel_ends { [] (intent -> <> (TERMINAL(st) || notfound || !intent)) }
/* Expected to fail: what the protocol does not promise (the README says why). */
ltl one_cancel_call { [] (!repeated) }
ltl withdraw_wins { [] (!revived) }
