#!/usr/bin/env bash
# The mutant gate: each mutant in scripts/mutants.ini is one small edit to one guard of a README guarantee or of
# a row of its bad-input tables, with the tests that must kill it. scripts/mutants.py applies each in a temporary
# copy of the tree, runs only those tests there (two mutants at a time), and fails when any mutant survives, when
# one no longer applies (its guard moved: move the mutant with it), or when the named tests fail unmutated.
# PostgreSQL tests use DATABASE_URL when it is set (CI sets it). Arguments go to scripts/mutants.py:
# mutant names to run only those, --list to print the table as Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(scripts/bootstrap.sh | tail -n 1)"
exec "$python" scripts/mutants.py "$@"
