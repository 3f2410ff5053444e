#!/usr/bin/env bash
# pytest in two parts: the tests that can share the machine on pytest-xdist workers (each with its own test
# database), then the ones marked `serial` in a second, plain pytest (tests/parts.py explains the split).
#   scripts/pytest-in-parts.sh PYTHON [pytest arguments...]
# Both parts always run (unless the first was interrupted); the exit status is pytest's, over both: 0 when
# neither failed, and 5 ("no tests collected") only when neither part had a test, so a narrowing -k or path
# that empties one part is fine. The last line sums the two parts the way pytest's closing line does.
#   FLINKS_TEST_WORKERS  xdist workers for the first part (default: twice the cores, at least 2);
#                        0 runs everything in one plain pytest process, in order (for --pdb, say)
set -uo pipefail
python="$1"
shift
# The suite starts many Python processes (xdist workers, db_workers, gunicorn, manage.py, nested pytest sessions).
# Without a bytecode cache each one compiles the package and the test modules again: 2.7-3.5 s of CPU a start on
# this 2-core machine against 0.6-0.9 s with one. A PYTHONDONTWRITEBYTECODE from the environment (set to keep source
# trees clean) is honoured in spirit: the cache goes to var/pycache, not beside the sources.
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$(cd "$(dirname "$0")/.." && pwd)/var/pycache}"
workers="${FLINKS_TEST_WORKERS:-$(( $(nproc) * 2 > 2 ? $(nproc) * 2 : 2 ))}"
for arg in "$@"; do
  case "$arg" in
    --pdb | --trace | no:xdist) workers=0 ;;  # a debugger needs the tests in this terminal's process
  esac
done
if [ "$workers" = 0 ] || ! "$python" -c "import xdist" 2>/dev/null; then
  FLINKS_TEST_PART= exec "$python" -m pytest "$@"
fi

counts="$(mktemp -d)"
trap 'rm -rf "$counts"' EXIT
start=$(date +%s%N)
echo "==> part 1 of 2: in parallel on $workers workers"
FLINKS_TEST_PART=parallel FLINKS_TEST_COUNTS="$counts/parallel" "$python" -m pytest -n "$workers" "$@"
parallel=$?
if [ "$parallel" = 2 ]; then  # interrupted (Ctrl-C): stop here
  exit 2
fi
if [ "$(cat "$counts/parallel.serial" 2>/dev/null)" = 0 ]; then
  serial=5  # this selection has no serial test: no second pytest start-up for nothing
else
  echo "==> part 2 of 2: the tests marked serial, one at a time"
  FLINKS_TEST_PART=serial FLINKS_TEST_COUNTS="$counts/serial" "$python" -m pytest "$@"
  serial=$?
fi

status=0
for part in "$parallel" "$serial"; do
  if [ "$part" != 0 ] && [ "$part" != 5 ] && [ "$status" = 0 ]; then
    status="$part"
  fi
done
if [ "$parallel" = 5 ] && [ "$serial" = 5 ]; then
  status=5
fi
end=$(date +%s%N)
# pytest's closing line, summed over both parts: "====== 3 failed, 1100 passed, 2 skipped in 290.12s (0:04:50) ======"
echo "==> both parts together:"
cat "$counts/parallel" "$counts/serial" 2>/dev/null | awk -v nanoseconds="$((end - start))" '
  { if (!($1 in total)) order[++n] = $1; total[$1] += $2 }
  END {
    line = ""
    for (i = 1; i <= n; i++) {
      count = total[order[i]]; word = order[i]
      if (count == 0) continue
      if (word == "error" && count > 1) word = "errors"
      if (word == "warnings" && count == 1) word = "warning"
      line = line (line ? ", " : "") count " " word
    }
    if (line == "") line = "no tests ran"
    seconds = nanoseconds / 1e9
    line = line sprintf(" in %.2fs", seconds)
    if (seconds >= 60) line = line sprintf(" (%d:%02d:%02d)", seconds / 3600, seconds % 3600 / 60, seconds % 60)
    pad = 80 - length(line) - 2
    if (pad < 2) pad = 2
    bar = ""; for (i = 0; i < pad / 2; i++) bar = bar "="
    print bar " " line " " bar
  }'
exit "$status"
