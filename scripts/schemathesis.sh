#!/usr/bin/env bash
# `make schemathesis`: fuzz the app's own endpoints against their OpenAPI schema, on a running example project.
#   1. a throwaway SQLite database in var/schemathesis/, migrated; the Flinks sandbox on a free port;
#   2. the example project under gunicorn on a free port (tasks run in the request: no worker needed;
#      tests/openapi/schemathesis_settings.py), the sandbox's webhooks pointed at it;
#   3. two sessions started at the sandbox, whose ids (and exit token, and the webhook secret) the hooks
#      (tests/openapi/schemathesis_hooks.py) give to a share of the requests, so the accepted paths are
#      exercised and not only the refusals;
#   4. `schemathesis run` on /api/schema/: fails on any 5xx, any undocumented status code or content type, any
#      body that does not match the schema; then fails on any traceback or ERROR line in the server's log (a
#      webhook processing error is answered 200 by design, so only the log shows it).
# Its exit status is the run's. Settings (environment):
#   SCHEMATHESIS_MAX_EXAMPLES  cases per operation and phase (default 100)    SCHEMATHESIS_SEED  reproduce a run
#   SCHEMATHESIS_ARGS          more `schemathesis run` options               KEEP=1  keep var/schemathesis/
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
started=$SECONDS

out="$(scripts/bootstrap.sh)"
python="${out##*$'\n'}"
[ "$out" = "$python" ] || printf '%s\n' "${out%$'\n'*}"
bin="$(dirname "$python")"
"$python" -c "import drf_spectacular, schemathesis" 2>/dev/null \
  || { echo "schemathesis.sh needs drf-spectacular and schemathesis (pip install -e '.[dev]')" >&2; exit 2; }

work="$root/var/schemathesis"
rm -rf "$work"
mkdir -p "$work"

export DJANGO_SETTINGS_MODULE=tests.openapi.schemathesis_settings
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export HYPOTHESIS_STORAGE_DIRECTORY="$root/var/hypothesis"  # not .hypothesis/ in the tree
export DATABASE_URL="sqlite:///$work/db.sqlite3" DJANGO_DEBUG=false
# The throttle is documented (429) and tested on its own; here it would turn the seeded session's share of the
# run into 429s and hide the accepted paths.
export FLINKS_BEACON_THROTTLE_RATE="100000/min"
export FLINKS_WEBHOOK_SECRETS="schemathesis-webhook-secret"
unset FLINKS_BASE_URL FLINKS_API_KEY

pids=()
cleanup() {
  status=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ] || [ -n "${KEEP:-}" ]; then
    echo "==> logs and reports kept in $work"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The first line of $1 that matches $2 (a sed -E pattern with one group), waiting up to 30 s for it.
await_line() {
  local file="$1" pattern="$2" pid="$3" found=""
  for _ in $(seq 300); do
    found="$(sed -nE "s|$pattern|\\1|p" "$file" 2>/dev/null | head -n 1)"
    [ -n "$found" ] && { echo "$found"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "gave up waiting for '$pattern' in $file:" >&2
  cat "$file" >&2
  return 1
}

echo "==> migrating a throwaway database ($work/db.sqlite3)"
"$python" manage.py migrate --noinput --verbosity 0

echo "==> the Flinks sandbox"
# The standalone sandbox (the site runs with DEBUG off, so it has no flinks_sandbox command); the token lets the
# seeding step below use the sandbox's control API.
FLINKS_SANDBOX_TOKEN="$("$python" -c 'import secrets; print(secrets.token_urlsafe(24))')"
export FLINKS_SANDBOX_TOKEN
"$python" -m flinks_sessions.sandbox --host 127.0.0.1 --port 0 --webhook-secret "$FLINKS_WEBHOOK_SECRETS" \
  > "$work/sandbox.log" 2>&1 &
pids+=("$!")
sandbox_url="$(await_line "$work/sandbox.log" '.*listening on (http://[^ ]+).*' "${pids[-1]}")"
export FLINKS_BASE_URL="$sandbox_url"
echo "    $sandbox_url"

echo "==> the example project (gunicorn)"
"$bin/gunicorn" example_project.wsgi:application --bind 127.0.0.1:0 --workers 2 --threads 4 \
  --worker-class gthread --timeout 30 --access-logfile - > "$work/server.log" 2>&1 &
pids+=("$!")
server_url="$(await_line "$work/server.log" '.*Listening at: (http://[^ ]+) .*' "${pids[-1]}")"
echo "    $server_url"

echo "==> seeding two sessions at the sandbox, pointing the sandbox's webhooks at the server"
seed="$("$python" - "$sandbox_url" "$server_url" <<'PY'
import json
import os
import sys
import urllib.request

import django

django.setup()
from django.urls import reverse

from flinks_sessions.api import exit_token
from flinks_sessions.services import start_session

sandbox, server = sys.argv[1:]
config = json.dumps({"webhook_url": server + reverse("flinks_sessions:webhook")}).encode()
request = urllib.request.Request(
    f"{sandbox}/_sandbox/config",
    data=config,
    method="POST",
    headers={"Content-Type": "application/json", "X-Sandbox-Token": os.environ["FLINKS_SANDBOX_TOKEN"]},
)
urllib.request.urlopen(request, timeout=10).close()
payor = {"firstName": "Schema", "lastName": "Thesis", "email": "schemathesis@example.com"}
# One session for the browser endpoints (its first accepted beacon cancels it at the sandbox, whose signed
# webhook then comes back), one for the webhooks (whatever status they bring).
browser = start_session(amount="25.00", reference_id="Happy1", payor=payor)
hooked = start_session(amount="30.00", reference_id="Happy1", payor=payor)
print(browser.session_id, exit_token(browser), hooked.session_id)
PY
)"
read -r FLINKS_ST_SESSION_ID FLINKS_ST_TOKEN FLINKS_ST_WEBHOOK_SESSION_ID <<< "$seed"
export FLINKS_ST_SESSION_ID FLINKS_ST_TOKEN FLINKS_ST_WEBHOOK_SESSION_ID
export FLINKS_ST_WEBHOOK_SECRET="$FLINKS_WEBHOOK_SECRETS"
export SCHEMATHESIS_HOOKS=tests.openapi.schemathesis_hooks
echo "    sessions $FLINKS_ST_SESSION_ID (browser endpoints), $FLINKS_ST_WEBHOOK_SESSION_ID (webhooks)"

echo "==> schemathesis run $server_url/api/schema/"
args=(
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}"
  --workers 4
  --request-timeout 10
  --generation-database none
  --report junit --report-dir "$work/report"
)
[ -n "${SCHEMATHESIS_SEED:-}" ] && args+=(--seed "$SCHEMATHESIS_SEED")
set +e
# shellcheck disable=SC2086 # SCHEMATHESIS_ARGS is a list of options
"$bin/schemathesis" --config-file tests/openapi/schemathesis.toml run "$server_url/api/schema/" "${args[@]}" ${SCHEMATHESIS_ARGS:-}
status=$?
set -e

echo "==> the server's log"
if grep -nE "Traceback|( ERROR | CRITICAL )" "$work/server.log" >&2; then
  echo "the server logged errors (above; full log in $work/server.log)" >&2
  [ "$status" -ne 0 ] || status=1
else
  echo "    no tracebacks, no errors ($(grep -cE '" [0-9]{3} ' "$work/server.log" || true) requests)"
fi
echo "==> schemathesis.sh: exit status $status after $((SECONDS - started))s"
exit "$status"
