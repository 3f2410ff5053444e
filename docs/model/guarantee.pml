/*
 * The guarantee decision of flinks_sessions.services (decide_guarantee) on the claim engine, for SPIN.  What each
 * name maps to and what was proved: docs/model/README.md.  scripts/check-model.sh runs every check.
 *
 * One open GEFT session, Flinks, and three deciders that race: the policy's task (accept), an operator (reject)
 * and a second operator (accept). Any worker may die before any step; the clock may pass any claim's TTL.
 * Every atomic block is one database transaction (or one HTTP exchange).
 *
 *   -DBROKEN_CLAIM   the claim ignores a live claim: a deliberately broken engine the check must reject.
 *   -DCRASHES=n -DERRORS=n  bounds (defaults 1 and 1): worker deaths, and confirm answers lost after Flinks acted.
 */

#ifndef CRASHES
#define CRASHES 1
#endif
#ifndef ERRORS
#define ERRORS 1
#endif

mtype:goutcome = { accepted, rejected, refused, not_found, already_terminal, already_decided, pending, failed }; /* services.GuaranteeOutcome */
mtype:reply = { R_answered, R_refused, R_failed };   /* engine.Reply (a 404 marks the row as for the cancel) */

/* The row. Each column the protocol reads or writes is named in a "column:" note (tests/model checks them). */
byte claim;                     /* column: guarantee_claim (0: none, else the holder's token) */
bool expired;                   /* column: guarantee_claimed_at (older than claim_ttl()) */
byte decision;                  /* column: guarantee_decision guarantee_decided_at (0: undecided, 1 accept, 2 reject) */

/* Flinks' side. */
byte rdecision;                 /* the decision Flinks took (0: none yet); a later confirm is answered 400 */
byte errors = ERRORS;
byte crashes = CRASHES;

/* Observers: they only count, the protocol never reads them. */
byte confirms;                  /* POST /guarantees/confirm calls Flinks received */
byte inflight;                  /* confirm calls claimed and not finished */
bool took_over;                 /* a claim was taken from a holder whose claim had passed its TTL */
bool lost;                      /* Flinks took a decision whose answer was lost (a failed result) */
byte reported;                  /* accepted/rejected results returned */
byte finished;

#ifdef BROKEN_CLAIM
#define FREE true                                          /* the claim ignores a live claim */
#else
#define FREE (claim == 0 || expired)                       /* free_of_claim(guarantee_claimed_at) */
#endif

#define CRASH \
  atomic { crashes > 0 -> crashes--; printf("TRAIL decider %d dies\n", me) }; goto crashed

/* services.guarantee (_Decide) through engine.Engine: claim -> call -> finish. */
proctype Decider(byte me; byte mine) {
  mtype:reply ans; mtype:goutcome result;
  /* 1. claim (Engine._take): one conditional UPDATE; a row not taken answers from what it holds. */
  atomic {
    if
    :: decision == 0 && FREE ->
         took_over = took_over || (claim != 0 && expired);
         claim = me; expired = false; inflight++;
         printf("TRAIL decider %d claims the guarantee\n", me)
    :: else -> result = (decision != 0 -> already_decided : pending); goto done
    fi
  }
  /* 2. call: POST /guarantees/confirm, no transaction, no lock. */
  if
  :: CRASH
  :: atomic {
       /* One confirm in flight, and none after a decision is stored, unless a claim passed its TTL. */
       assert(inflight == 1 || took_over);
       assert(decision == 0 || took_over);
       confirms++;
       if
       :: rdecision == 0 -> rdecision = mine; ans = R_answered
       :: else -> ans = R_refused
       fi;
       if
       :: errors > 0 && ans == R_answered -> errors--; lost = true; ans = R_failed   /* acted on, answer lost */
       :: true
       fi;
       printf("TRAIL decider %d: confirm answered %e (Flinks took %d)\n", me, ans, rdecision)
     }
  fi;
  /* 3. finish (Engine.store_one): under the row lock; releases our claim, only ours. */
  if
  :: CRASH
  :: atomic {
       if
       :: ans == R_answered ->
            if
            :: decision == 0 -> decision = mine
            :: else
            fi;
            result = (mine == 1 -> accepted : rejected); reported++
       :: ans == R_refused -> result = refused
       :: ans == R_failed -> result = failed
       fi;
       assert(decision == 0 || decision == rdecision);     /* what is stored is what Flinks took */
       assert(reported <= 1);                               /* one caller is told its decision was taken */
       inflight--;
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
  :: atomic { claim != 0 && !expired -> expired = true; printf("TRAIL the claim of decider %d passes its TTL\n", claim) }
  od
}

init {
  atomic { run Clock(); run Decider(1, 1); run Decider(2, 2); run Decider(3, 1) }
  (finished == 3);
  assert(decision == 0 || decision == rdecision);
  assert(decision != 0 || rdecision == 0 || lost || crashes < CRASHES)   /* undecided here: Flinks' answer never came */
}

/* Expected to fail: a second confirm call after a claim passed its TTL (the README shows the trail). */
ltl one_confirm_call { [] (confirms <= 1) }
