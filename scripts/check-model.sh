#!/usr/bin/env bash
# Model-check the claim protocol with SPIN, for every claimed action (docs/model: claim.pml the cancel,
# guarantee.pml the guarantee decision, restart.pml Start again, recovery.pml the recovery notice), and the
# announcements (announce.pml):
# every property at its stated bounds
# must hold, every documented non-guarantee must produce its counterexample, and each deliberately broken
# variant must be rejected with a trail, so that no check can pass vacuously. Exits non-zero otherwise.
# Builds in a temporary directory (nothing is written to the clone); installs Debian's spin when it is missing.
# docs/model/README.md says what each check proves and at which bounds.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
models="$root/docs/model"

if ! command -v spin >/dev/null 2>&1; then
  echo "==> installing spin"
  (apt-get update -qq && apt-get install -y -qq spin) >/dev/null
fi
command -v gcc >/dev/null 2>&1 || { echo "check-model: gcc is needed to compile SPIN's verifier" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

millis() { echo $(($(date +%s%N) / 1000000)); }
seconds() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# config DIR MODEL DEFINES MODE OPT: generate and compile one verifier; MODE "safety" (assertions and end
# states, no never claim) or "ltl" (the model's ltl properties, checked for acceptance cycles under weak fairness).
config() {
  local dir=$1 model=$2 defines=$3 mode=$4 opt=$5 cflags
  mkdir -p "$dir" && cp "$models/$model.pml" "$dir/model.pml"
  if [ "$mode" = safety ]; then cflags="-DSAFETY -DNOCLAIM"; else cflags="-DNFAIR=3"; fi
  # shellcheck disable=SC2086 # word lists
  (cd "$dir" && { spin $defines -a model.pml >spin.out || { cat spin.out; false; }; } \
    && gcc "$opt" -DMEMLIM=2048 $cflags -o pan pan.c)
}

# check DIR LABEL EXPECT PROPERTY DEFINES: run the verifier of DIR for PROPERTY ("safety" or an ltl name) and
# compare with EXPECT ("hold" or "fail"); prints one line, and the trail of a counterexample.
check() {
  local dir=$1 label=$2 expect=$3 property=$4 defines=$5 args=(-m200000) started cpu out errors states
  [ "$property" = safety ] || args+=(-a -f -N "$property")
  started=$(millis)
  cpu=$( (TIMEFORMAT=%U; time (cd "$dir" && ./pan "${args[@]}" >"$label.out" 2>&1)) 2>&1) || true
  out="$dir/$label.out"
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out" | tail -n 1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out" | tail -n 1)
  printf '%-21s %-20s %-42s %9s states %8s (cpu %s s)  errors: %s\n' "$label" "$property" \
    "${defines:-(all triggers)}" "${states:-?}" "$(seconds $(($(millis) - started)))" "${cpu:-?}" "${errors:-?}"
  local verdict=ok
  if [ -z "$errors" ] || grep -qE "max search depth too small|memory limit|out of memory" "$out"; then
    verdict="INCOMPLETE SEARCH"
  elif [ "$expect" = hold ] && [ "$errors" != 0 ]; then
    verdict="VIOLATED (expected to hold)"
  elif [ "$expect" = fail ] && [ "$errors" = 0 ]; then
    verdict="NO COUNTEREXAMPLE (expected one: the check would pass vacuously)"
  fi
  if [ "$verdict" != ok ]; then
    echo "    $verdict"
    echo "$label" >>"$work/failed"
  fi
  if [ "$errors" != 0 ]; then
    grep -E "violated|acceptance cycle|incomplete|limit" "$out" | head -n 2 | sed 's/^/    | /' || true
    # The trail file names the ltl property it violates; replaying it prints the model's TRAIL lines.
    # shellcheck disable=SC2086
    (cd "$dir" && spin $defines -t model.pml 2>&1 | grep -E "TRAIL" | sed 's/^ */    | /') || true
  fi
}

# job NAME MODEL DEFINES MODE OPT CHECKS...: one verifier, its checks in order (each "label:expect:property").
job() {
  local name=$1 model=$2 defines=$3 mode=$4 opt=$5 spec
  shift 5
  config "$work/$name" "$model" "$defines" "$mode" "$opt"
  for spec in "$@"; do
    IFS=: read -r label expect property <<<"$spec"
    check "$work/$name" "$label" "$expect" "$property" "$defines"
  done
}

started=$(millis)
echo "==> SPIN $(spin -V | sed -n 's/Spin Version \([^ ]*\).*/\1/p'): CRASHES=1 and ERRORS=1 unless the defines say otherwise"
# Independent verifiers, two at a time (one per core); their reports are printed in this order.
jobs_list=(
  "races|claim|-DNO_RESUME|safety|-O2|races:hold:safety"
  "withdraw|claim|-DNO_SYNC|safety|-O2|withdraw-races:hold:safety"
  "liveness|claim|-DNO_SYNC -DNO_RESUME|ltl|-O2|orphan-claim-cleared:hold:orphan_claim_cleared cancel-ends:hold:cancel_ends"
  "takeover|claim|-DNO_SYNC -DNO_RESUME -DERRORS=0|ltl|-O0|second-cancel-call:fail:one_cancel_call"
  "withdrawn|claim|-DNO_ADMIN -DNO_SHOPPER -DNO_SYNC -DERRORS=0|ltl|-O0|withdraw-after-read:hold:withdraw_wins"
  "broken-finish|claim|-DNO_RESUME -DBROKEN_FINISH|safety|-O0|broken-finish:fail:safety"
  "broken-ttl|claim|-DNO_SYNC -DNO_RESUME -DBROKEN_TTL|ltl|-O0|broken-ttl:fail:orphan_claim_cleared"
  "broken-intent|claim|-DNO_ADMIN -DNO_SHOPPER -DNO_SYNC -DERRORS=0 -DBROKEN_INTENT|ltl|-O0|broken-intent:fail:withdraw_wins"
  "guarantee|guarantee||safety|-O0|guarantee-races:hold:safety"
  "guarantee-takeover|guarantee|-DERRORS=0|ltl|-O0|second-confirm-call:fail:one_confirm_call"
  "guarantee-broken|guarantee|-DBROKEN_CLAIM|safety|-O0|broken-guarantee-claim:fail:safety"
  "restart|restart||safety|-O0|restart-races:hold:safety"
  "restart-dead-worker|restart|-DERRORS=0 -DDEAD_ONLY|ltl|-O0|second-creation:fail:one_creation"
  "restart-broken|restart|-DBROKEN_CLAIM|safety|-O0|broken-restart-claim:fail:safety"
  "recovery|recovery||safety|-O0|recovery-races:hold:safety"
  "recovery-ltl|recovery||ltl|-O0|at-most-once:hold:at_most_once late-payment:fail:no_send_after_paid"
  "recovery-no-consent|recovery|-DNO_CONSENT|safety|-O0|no-consent:hold:safety"
  "recovery-broken|recovery|-DBROKEN_DEDUPE|safety|-O0|broken-recovery-dedupe:fail:safety"
  "recovery-at-least-once|recovery|-DAT_LEAST_ONCE|safety|-O0|at-least-once-resends:fail:safety"
  "announce-races|announce||safety|-O2|announce-races:hold:safety"
  "announce-live|announce||ltl|-O2|every-announced:hold:every_transition_announced announced-handled:hold:announced_was_handled order-after-crash:fail:in_order"
  "announce-order|announce|-DCRASHES=0|ltl|-O2|announce-order:hold:in_order"
  "announce-broken-mark|announce|-DBROKEN_MARK_FIRST|ltl|-O0|broken-mark-first:fail:announced_was_handled broken-mark-lost:fail:every_transition_announced"
  "announce-broken-claim|announce|-DBROKEN_CLAIM|safety|-O0|broken-claim:fail:safety"
)
run_job() {
  local name model defines mode opt checks
  IFS='|' read -r name model defines mode opt checks <<<"$1"
  # shellcheck disable=SC2086 # checks is a word list
  job "$name" "$model" "$defines" "$mode" "$opt" $checks >"$work/$name.report" 2>&1 || echo "$name" >>"$work/failed"
}
for entry in "${jobs_list[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
  run_job "$entry" &
done
wait
for entry in "${jobs_list[@]}"; do cat "$work/${entry%%|*}.report"; done
echo "==> $(seconds $(($(millis) - started))) in all"

if [ -s "$work/failed" ]; then
  echo "check-model: not as expected: $(sort -u "$work/failed" | tr '\n' ' ')" >&2
  exit 1
fi
echo "check-model: every property holds at its bounds; every counterexample and broken variant was found"
