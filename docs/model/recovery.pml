/*
 * The recovery notice (services.recovery, send_recovery_notices) on the claim engine, for SPIN.  What each name
 * maps to and what was proved: docs/model/README.md ("Recovery notices").  scripts/check-model.sh runs every check.
 *
 * One order with two abandoned sessions (a restart chain leaves several ended rows of one order, and two
 * unchained attempts are two candidates too), three sweeps that race over them (crons overlapping, a task), and
 * the shopper, who may pay the order at any moment. Any sweep may die before any step; the clock may pass any
 * claim's TTL. A claim's snapshot may be stale: PostgreSQL evaluates the claim's NOT EXISTS (notice) against the
 * statement's snapshot, so a sweep may take a session's claim while another's notice row is being committed.
 * Every atomic block is one database transaction (or one send).
 *
 *   -DBROKEN_DEDUPE      the notice row is not the dedupe key (each claim thinks the order is its own): a
 *                        deliberately broken engine the check must reject.
 *   -DAT_LEAST_ONCE      a notice left "sending" by a dead sweep is sent again once its claim passes its TTL:
 *                        the other guarantee one could choose; its counterexample is why it was not chosen.
 *   -DNO_CONSENT         the payer did not consent: nothing may ever be sent.
 *   -DCRASHES=n          bound (default 1): sweep deaths.
 */

#ifndef CRASHES
#define CRASHES 1
#endif

mtype:coutcome = { sent, already_sent, no_consent, not_due, withdrawn, pending, not_found, failed }; /* services.recovery.RecoveryOutcome */
mtype:nstate = { N_none, N_sending, N_sent, N_withdrawn };   /* RecoveryNotice.State (N_none: no row) */

/* The rows. Each column the protocol reads or writes is named in a "column:" note (tests/model checks them). */
byte claim[2];                  /* column: recovery_claim (per session; 0: none, else the holder's token) */
bool expired[2];                /* column: recovery_claimed_at (older than claim_ttl()) */
#ifdef NO_CONSENT
bool consent = false;           /* column: recovery_consent */
#else
bool consent = true;
#endif
mtype:nstate notice = N_none;   /* table: RecoveryNotice, unique on the order (reference_id, account) */
byte owner;                     /* the notice row's claim: the sweep whose claim inserted it */
bool paid;                      /* the order completed (any of its sessions), or was started again */

/* Observers: they only count, the protocol never reads them. */
byte sends;                     /* session_abandoned signals (and emails) sent for the order */
bool sent_after_paid;           /* a send while the order was paid (after the sweep's last look found it unpaid) */
byte crashes = CRASHES;
byte finished;

#define CRASH \
  atomic { crashes > 0 -> crashes--; printf("TRAIL sweep %d dies\n", me) }; goto crashed

/* One run of the engine over the sessions a sweep selected: claim -> call -> finish, for one session. */
proctype Sweep(byte me) {
  byte s; bool mine; bool went_on; mtype:coutcome result;
  if :: s = 0 :: s = 1 fi;
  /* 1. claim (Engine._take): the conditional UPDATE on the session, then the notice's INSERT ... ON CONFLICT DO
   *    NOTHING in the same transaction (_Notice.claimed); its read-back says whose the order is. */
  atomic {
    if
    :: consent && !paid && (claim[s] == 0 || expired[s]) ->
         /* no test of the notice here: a stale snapshot may not see a row committed since; the INSERT decides */
         claim[s] = me; expired[s] = false;
#ifdef AT_LEAST_ONCE
         if
         :: notice == N_sending && owner != me -> notice = N_none        /* a dead sweep's notice is sent again */
         :: else
         fi;
#endif
#ifdef BROKEN_DEDUPE
         notice = N_sending; owner = me; mine = true;
#else
         if
         :: notice == N_none -> notice = N_sending; owner = me; mine = true
         :: else -> mine = false
         fi;
#endif
         printf("TRAIL sweep %d claims session %d (the order's notice: %d)\n", me, s, mine)
    :: else ->
         result = (notice != N_none -> already_sent : (!consent -> no_consent : (claim[s] != 0 -> pending : not_due)));
         goto done
    fi
  }
  /* 2. call (_Notice.call): another claim's order answers already_sent; a last look at the order; the send. */
  if
  :: CRASH
  :: !mine -> result = already_sent
  :: mine ->
       went_on = paid;
       if
       :: went_on -> result = withdrawn
       :: !went_on ->
            atomic {
              assert(consent);                     /* no consent, no message, ever */
              sends++;
              sent_after_paid = sent_after_paid || paid;
              printf("TRAIL sweep %d sends the notice (%d sent)\n", me, sends)
            };
            result = sent
       fi
  fi;
#ifndef AT_LEAST_ONCE
  assert(sends <= 1);                              /* at most once per order */
#endif
  /* 3. finish (Engine.store_one): record the notice (only its own), release our claim (only ours). */
  if
  :: CRASH
  :: atomic {
       if
       :: mine && owner == me && result == sent -> notice = N_sent
       :: mine && owner == me && result == withdrawn -> notice = N_withdrawn
       :: else
       fi;
       if
       :: claim[s] == me -> claim[s] = 0; expired[s] = false
       :: else
       fi
     }
  fi;
done:
  skip;
crashed:
  finished++
}

/* The shopper pays the order (or starts it again) at any moment: it is no longer due. */
proctype Shopper() {
  atomic { !paid -> paid = true; printf("TRAIL the order is paid\n") }
}

/* claim_ttl() passes: any claim, whoever holds it, may become old enough to be taken over. */
proctype Clock() {
end:
  do
  :: atomic { claim[0] != 0 && !expired[0] -> expired[0] = true }
  :: atomic { claim[1] != 0 && !expired[1] -> expired[1] = true }
  od
}

init {
  atomic { run Clock(); run Shopper(); run Sweep(1); run Sweep(2); run Sweep(3) }
  (finished == 3);
  assert(sends <= 1);
  assert(consent || sends == 0);
  assert(notice != N_sent || sends == 1);          /* "sent" is recorded only for a notice that went */
  /* A notice that went is recorded sent, or left "sending" by a sweep that died after the send. */
  assert(sends == 0 || notice == N_sent || notice == N_sending)
}

/* The guarantee the code makes, as LTL too: [] at most one notice. */
ltl at_most_once { [] (sends <= 1) }
/* Expected to fail: the shopper pays in the instant between the sweep's last look and the send. */
ltl no_send_after_paid { [] !sent_after_paid }
