#!/usr/bin/env bash
# The whole test suite, from nothing: builds the virtualenv if needed, then runs pytest.
# PostgreSQL tests run when DATABASE_URL is set; browser tests when Debian's chromium is installed.
# FLINKS_REQUIRE (CI names every part in tests/extras.py) turns a missing part into a failure instead of a skip.
# Extra arguments go to pytest.
# The suite runs in two parts, on xdist workers and then the `serial` tests (scripts/pytest-in-parts.sh;
# FLINKS_TEST_WORKERS=0 runs it in one process).
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(scripts/bootstrap.sh | tail -n 1)"
if [[ "${FLINKS_REQUIRE:-}" == *postgres* && -z "${DATABASE_URL:-}" ]]; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/test"
fi
mkdir -p var
echo "==> pytest on $("$python" -c 'import django, sys; print(f"Python {sys.version.split()[0]}, Django {django.get_version()}")'), database: $([ -n "${DATABASE_URL:-}" ] && echo PostgreSQL || echo SQLite)"
exec scripts/pytest-in-parts.sh "$python" "$@"
