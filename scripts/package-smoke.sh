#!/usr/bin/env bash
# Is what we would upload to PyPI complete and working? Builds the sdist and the wheel (the wheel from the sdist,
# as pip does), checks what they carry and their metadata (twine check --strict), installs the wheel (not
# editable) with the `example` extra into a fresh virtualenv and, from a directory outside the project:
#   - imports the app from site-packages, migrates on SQLite, finds no missing migration;
#   - runs `check --deploy` with production-like settings (tests/smoke/smokesite): any flinks_sessions.* message
#     fails the run;
#   - collects the static files; starts `python -m flinks_sessions.sandbox --port 0` and asks it for a token;
#   - renders the checkout tag for a session started at that sandbox, sends the exit beacon, lets
#     `db_worker --batch` cancel it, and checks it was cancelled once.
# On success the sdist and wheel are copied to dist/ (ready for `twine upload`).
#   PYTHON   interpreter (default: scripts/find-python.sh)      KEEP=1  keep the work directory
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
python="$(scripts/find-python.sh)"
work="$(mktemp -d "${TMPDIR:-/tmp}/flinks-package-smoke.XXXXXX")"
sandbox_pid=""
started=$SECONDS
export PIP_DISABLE_PIP_VERSION_CHECK=1

cleanup() {
  if [ -n "$sandbox_pid" ] && kill -0 "$sandbox_pid" 2>/dev/null; then
    kill "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
  fi
  if [ -n "${KEEP:-}" ]; then echo "==> work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() { echo "PACKAGE SMOKE FAILED: $*" >&2; exit 1; }

echo "==> tools: build and twine in a throwaway virtualenv ($("$python" --version))"
"$python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet --upgrade pip
"$work/tools/bin/python" -m pip install --quiet build twine

echo "==> build: sdist, then the wheel from the sdist"
"$work/tools/bin/python" -m build --outdir "$work/dist" "$root" > "$work/build.log" 2>&1 \
  || { cat "$work/build.log"; fail "the build failed"; }
ls -l "$work/dist"

echo "==> contents"
"$work/tools/bin/python" tests/smoke/inspect_dist.py "$work/dist" "$root" || fail "the distributions are incomplete"

echo "==> twine check"
"$work/tools/bin/python" -m twine check --strict "$work"/dist/*

echo "==> install the wheel (with the example extra) into a fresh virtualenv"
wheel="$(ls "$work"/dist/*.whl)"
"$python" -m venv "$work/site"
site_python="$work/site/bin/python"
"$site_python" -m pip install --quiet --upgrade pip
"$site_python" -m pip install --quiet "${wheel}[example]"
"$site_python" -m pip check
"$site_python" -c 'import django, sys; print(f"Python {sys.version.split()[0]}, Django {django.get_version()}")'

# A shop directory outside the project: only the smoke site's own files, nothing from this tree on sys.path.
project="$work/shop"
mkdir -p "$project"
cp -r tests/smoke/smokesite "$project/smokesite"
rm -rf "$project/smokesite/__pycache__"
cd "$project"
unset PYTHONPATH DATABASE_URL FLINKS_TEST_TASKS FLINKS_TEST_DB_NAME FLINKS_TEST_SANDBOX_URL
export DJANGO_SETTINGS_MODULE=smokesite.settings SMOKE_DIR="$project"
SMOKE_SECRET_KEY="$("$site_python" -c 'import secrets; print(secrets.token_urlsafe(64))')"
export SMOKE_SECRET_KEY
django() { "$site_python" -m django "$@"; }

echo "==> smoke: import, migrate, migrations complete"
"$site_python" -m smokesite.smoke where
django migrate --noinput -v 0
django makemigrations --check --dry-run -v 1 || fail "the installed models need a migration the wheel lacks"

echo "==> smoke: check --deploy with production-like settings"
set +e
django check --deploy > "$work/check.log" 2>&1
check_status=$?
set -e
cat "$work/check.log"
[ "$check_status" -eq 0 ] || fail "check --deploy reported errors"
if grep -q "flinks_sessions\." "$work/check.log"; then
  fail "check --deploy reported flinks_sessions messages with production-like settings"
fi

echo "==> smoke: collectstatic"
django collectstatic --noinput -v 0
for static in $(cd "$root/flinks_sessions/static" 2>/dev/null && find . -type f | sed 's|^\./||'); do
  [ -f "$project/static/$static" ] || fail "collectstatic did not find $static in the installed package"
done
echo "static files collected: $(cd "$project/static" && find flinks_sessions -type f 2>/dev/null | tr '\n' ' ')"

echo "==> smoke: the sandbox from the wheel (python -m flinks_sessions.sandbox --port 0)"
"$site_python" -m flinks_sessions.sandbox --port 0 > "$work/sandbox.log" 2>&1 &
sandbox_pid=$!
sandbox_url=""
for _ in $(seq 100); do
  sandbox_url="$(grep -o 'http://[^ ]*' "$work/sandbox.log" | head -n 1 || true)"
  [ -n "$sandbox_url" ] && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.log"; fail "the sandbox exited"; }
  sleep 0.1
done
[ -n "$sandbox_url" ] || { cat "$work/sandbox.log"; fail "the sandbox did not print its URL"; }
echo "sandbox listening on $sandbox_url"
"$site_python" -m smokesite.smoke authorize "$sandbox_url"

echo "==> smoke: checkout, exit beacon, db_worker cancels"
export FLINKS_BASE_URL="$sandbox_url"
checkout_output="$("$site_python" -m smokesite.smoke checkout)" || fail "the checkout step failed"
echo "$checkout_output"
session_id="$(echo "$checkout_output" | sed -n 's/^SESSION_ID=//p')"
django db_worker --batch --no-startup-delay --interval 0 -v 0
"$site_python" -m smokesite.smoke verify "$session_id"

cd "$root"
mkdir -p dist
cp "$work"/dist/* dist/
echo "==> package smoke passed in $((SECONDS - started))s; in dist/: $(cd "$work/dist" && ls | tr '\n' ' ')"
