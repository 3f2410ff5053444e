/* Announcing stored transitions (services/announcements.py), model-checked with SPIN.

   One session. Workers store N transitions one after the other (each store is one transaction writing the
   audit row as pending); after its commit a worker sends the row's signals and marks it announced in a second
   step. Two sweeps (flinks_announce_pending) claim the session's owed rows, send them in stored order and stop
   at the first that fails. A worker or a sweep may die between any two steps (CRASHES); a dead worker's
   successor stores the next transition (the next webhook), a dead sweep's claim passes its TTL. The receiver
   raises FAILS times in all; it deduplicates on event_id (handled[]). docs/model/README.md says what is proved.
*/
#ifndef N
#define N 2
#endif
#ifndef CRASHES
#define CRASHES 1
#endif
#ifndef FAILS
#define FAILS 1
#endif

mtype:ann = { PENDING, ANNOUNCED, FAILING };
mtype:ann row[N];      /* SessionEvent.announcement of the rows stored so far */
byte stored = 0;       /* rows committed (event ids 0 .. stored-1, in stored order) */
bool held = false;     /* PaymentSession.announcements_held */
byte claim = 0;        /* the sweep (1 or 2) whose claim holds the owed rows; 0: none */
bool handled[N];       /* the receiver's table of event_ids it has handled */
byte sweeping[N];      /* deliveries of each row by a sweep, in progress */
byte crashes = CRASHES;
byte fails = FAILS;
bool out_of_order = false;

/* One delivery of row e to the receiver; ok tells whether every receiver returned. The receiver handles an
   event_id it has not seen (dedup) and records whether an earlier one was still unhandled. */
inline deliver(e, ok) {
  atomic {
    if
    :: fails > 0 -> fails--; ok = false; printf("TRAIL the receiver raises on event %d\n", e)
    :: true -> ok = true;
       if
       :: !handled[e] ->
          handled[e] = true;
          j = 0;
          do
          :: j < e && !handled[j] -> out_of_order = true; j++
          :: j < e && handled[j] -> j++
          :: j >= e -> break
          od;
          printf("TRAIL the receiver handles event %d\n", e)
       :: else -> printf("TRAIL the receiver skips event %d (deduplicated)\n", e)
       fi
    fi
  }
}

#define WORKER_DIES atomic { crashes > 0 -> crashes--; printf("TRAIL the worker dies\n") }
#define SWEEP_DIES atomic { crashes > 0 -> crashes--; printf("TRAIL sweep %d dies\n", me) }

proctype Worker() {
  byte e, j;
  bool ok, hold;
end_store:                                                  /* a successor with nothing left to store */
  atomic {
    stored < N -> e = stored; row[e] = PENDING; stored++; hold = held;
    printf("TRAIL a worker stores event %d (held %d)\n", e, hold)
  };
  if
  :: WORKER_DIES; goto successor                      /* between commit and send */
  :: hold -> goto next                                      /* an earlier one is failing: the sweep sends it */
  :: !hold ->
#ifdef BROKEN_MARK_FIRST
     atomic { row[e] == PENDING -> row[e] = ANNOUNCED };
     if :: WORKER_DIES; goto successor :: true fi;
     deliver(e, ok);
     if :: !ok -> row[e] = FAILING; held = true :: else fi
#else
     deliver(e, ok);
     if
     :: WORKER_DIES; goto successor                   /* between send and mark */
     :: ok -> atomic { if :: row[e] == PENDING -> row[e] = ANNOUNCED :: else fi }
     :: !ok -> atomic { if :: row[e] == PENDING -> row[e] = FAILING :: else fi; held = true }
     fi
#endif
  fi;
next:
  if :: stored < N -> goto end_store :: else -> goto end fi;
successor:
  run Worker();
end:
  skip
}

#define OWED(k) (row[k] == PENDING || row[k] == FAILING)

proctype Sweep(byte me) {
  byte e, j;
  bool ok;
again:                                                      /* cron runs the sweep again and again */
#ifdef BROKEN_CLAIM
  atomic { true ->                                       /* the sweep ignores the other's claim */
#else
  atomic { claim == 0 -> claim = me;
#endif
    e = 0; if :: OWED(0) || OWED(1) -> printf("TRAIL sweep %d claims the owed rows\n", me) :: else fi };
  do
  :: e < stored && !OWED(e) -> e++
  :: e < stored && OWED(e) ->
     if :: SWEEP_DIES; goto dead :: true fi;
     sweeping[e]++;
     assert(sweeping[e] == 1);                              /* no other sweep is sending this row */
     deliver(e, ok);
     sweeping[e]--;
     if :: SWEEP_DIES; goto dead :: true fi;
     if
     :: ok -> row[e] = ANNOUNCED; e++
     :: !ok -> row[e] = FAILING; held = true; break
     fi
  :: e >= stored -> atomic { j = 0; do :: j < stored && !OWED(j) -> j++ :: else -> break od; if :: j == stored -> held = false :: else fi }; break
  od;
  atomic { if :: claim == me -> claim = 0 :: else fi };
  goto again;
dead:
  atomic { if :: claim == me -> claim = 0 :: else fi; printf("TRAIL the claim of sweep %d passes its TTL\n", me) };
  goto again
}

init {
  atomic { run Worker(); run Sweep(1); run Sweep(2) }
}

#define ALL_HANDLED (handled[0] && handled[1])
#define ALL_ANNOUNCED (stored == N && row[0] == ANNOUNCED && row[1] == ANNOUNCED)
ltl every_transition_announced { <> [] (ALL_ANNOUNCED && ALL_HANDLED) }
ltl announced_was_handled { [] ((row[0] == ANNOUNCED -> handled[0]) && (row[1] == ANNOUNCED -> handled[1])) }
ltl in_order { [] !out_of_order }
