/*
 * Start again (services.restart_session) on the claim engine, for SPIN.  What each name maps to and what was
 * proved: docs/model/README.md.  scripts/check-model.sh runs every check.
 *
 * One ended session, Flinks, and three requests that race to restart it (a double click and a second tab). Any
 * worker may die before any step; the clock may pass any claim's TTL. The predecessor's own cancel (when it is
 * still open) is the cancel engine's, checked by claim.pml. Every atomic block is one database transaction (or
 * one HTTP exchange).
 *
 *   -DBROKEN_CLAIM   the claim ignores a live claim: a deliberately broken engine the check must reject.
 *   -DDEAD_ONLY      only a dead worker's claim passes its TTL (the documented exception's own trail).
 *   -DCRASHES=n -DERRORS=n  bounds (defaults 1 and 1): worker deaths, and creations whose answer was lost.
 */

#ifndef CRASHES
#define CRASHES 1
#endif
#ifndef ERRORS
#define ERRORS 1
#endif

mtype:routcome = { created, existed, pending, refused, limit_reached, not_found, failed };  /* services.RestartOutcome */
mtype:reply = { R_answered, R_failed };                                       /* engine.Reply */

/* The row. Each column the protocol reads or writes is named in a "column:" note (tests/model checks them). */
byte claim;                     /* column: restart_claim (0: none, else the holder's token) */
bool expired;                   /* column: restart_claimed_at (older than claim_ttl()) */
byte successor;                 /* column: restarted_from (the successor row naming it, one-to-one; 0: none) */
bool at_limit;                  /* the order already has RESTART_LIMIT successors (services.restart_bound) */

/* Flinks' side. */
byte creations;                 /* sessions Flinks created for this order (POST /sessions answered) */
byte errors = ERRORS;
byte crashes = CRASHES;

/* Observers. */
bool took_over;                 /* a claim was taken from a holder whose claim had passed its TTL */
bool lost;                      /* a creation whose answer was lost: stored without a session id, to reconcile */
byte stored;                    /* successor rows stored */
byte finished;
bool alive[4];                  /* by claim token: is that worker still running? */

#ifdef BROKEN_CLAIM
#define FREE true                                          /* the claim ignores a live claim */
#else
#define FREE (claim == 0 || expired)                       /* free_of_claim(restart_claimed_at) */
#endif

#ifdef DEAD_ONLY
#define MAY_EXPIRE (!alive[claim])
#else
#define MAY_EXPIRE true                                    /* dead, stalled or merely slow */
#endif

#define CRASH \
  atomic { crashes > 0 -> crashes--; alive[me] = false; printf("TRAIL request %d dies\n", me) }; goto crashed

/* services.restart (_Restart) through engine.Engine: claim -> call -> finish. */
proctype Restarter(byte me) {
  mtype:reply ans; mtype:routcome result;
  alive[me] = true;
  /* 0. refuse (Action.refuse, before any claim): past the order's bound nothing is claimed, cancelled or created. */
  if
  :: at_limit -> result = limit_reached; goto done
  :: else
  fi;
  /* 1. claim (Engine._take): restartable() (no successor) and no live claim; else existed or pending. */
  atomic {
    if
    :: successor == 0 && FREE ->
         took_over = took_over || (claim != 0 && expired);
         claim = me; expired = false; printf("TRAIL request %d claims the restart\n", me)
    :: else -> result = (successor != 0 -> existed : pending); goto done
    fi
  }
  /* 2. call: POST /sessions (the cancel of an open predecessor comes first: claim.pml). */
  if
  :: CRASH
  :: atomic {
       /* A second session at Flinks only after a claim passed its TTL (its worker dead or stalled between
        * Flinks' creation and our store) or a creation's answer was lost (recorded for reconciliation). */
       assert(creations == 0 || took_over || lost);
       creations++;
       if
       :: errors > 0 -> errors--; lost = true; ans = R_failed       /* created, answer lost (ambiguous) */
       :: ans = R_answered
       fi;
       printf("TRAIL request %d: POST /sessions answered %e (%d created)\n", me, ans, creations)
     }
  fi;
  /* 3. finish (Engine.store_one): under the predecessor's row lock. */
  if
  :: CRASH
  :: atomic {
       if
       :: ans == R_answered && successor == 0 -> successor = me; stored++; result = created
       :: ans == R_answered && successor != 0 ->                  /* the one-to-one refuses a second successor: */
            result = failed; goto done                             /* rolled back, the claim stays until its TTL */
       :: ans == R_failed -> result = failed
       fi;
       assert(stored <= 1);
       if
       :: claim == me -> claim = 0; expired = false
       :: else
       fi
     }
  fi;
done:
  skip;
crashed:
  finished++
}

/* claim_ttl() passes: any claim, whoever holds it, may become old enough to be taken over. */
proctype Clock() {
end:
  do
  :: atomic { claim != 0 && !expired && MAY_EXPIRE -> expired = true; printf("TRAIL the claim of request %d passes its TTL\n", claim) }
  od
}

init {
  atomic {
    if :: at_limit = true :: at_limit = false fi;
    run Clock(); run Restarter(1); run Restarter(2); run Restarter(3)
  }
  (finished == 3);
  assert(stored <= 1 && (stored == 0 || creations >= 1));
  assert(!at_limit || creations == 0)
}

/* Expected to fail: a second session at Flinks after a worker died between the creation and its store. */
ltl one_creation { [] (creations <= 1) }
