#!/usr/bin/env bash
# `make demo`: the example shop and everything it needs, from nothing, on SQLite.
#   1. builds .venv (scripts/bootstrap.sh), migrates, creates the demo admin (idempotent);
#   2. runs the Flinks sandbox (webhooks pointed at the dev server), a db_worker and runserver;
#   3. prints the shop URL, the admin URL and the login; Ctrl-C or SIGTERM stops all three, frees their ports
#      and exits 0.
# Every process counts its metrics in var/prometheus (PROMETHEUS_MULTIPROC_DIR, emptied at each start), as
# docs/deployment.md tells a site to, so /metrics shows the worker's cancels beside the server's.
# Settings come from the environment, then .env (see .env.example): DEMO_HOST, DEMO_PORT, FLINKS_SANDBOX_PORT,
# DEMO_ADMIN_USERNAME, DEMO_ADMIN_PASSWORD, DEMO_ADMIN_EMAIL, DEMO_PYTHON, and everything
# example_project/settings.py reads (DATABASE_URL for another database than var/example.sqlite3).
set -euo pipefail
cd "$(dirname "$0")/.."

# .env fills in what the environment does not set (as django-environ does for the settings).
if [ -f .env ]; then
  while IFS='=' read -r key value || [ -n "$key" ]; do
    [[ "$key" =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
    [ -n "${!key+set}" ] || export "$key=$value"
  done < .env
fi

host="${DEMO_HOST:-127.0.0.1}"
port="${DEMO_PORT:-8000}"
sandbox_port="${FLINKS_SANDBOX_PORT:-8765}"
export DEMO_ADMIN_USERNAME="${DEMO_ADMIN_USERNAME:-admin}"
export DEMO_ADMIN_PASSWORD="${DEMO_ADMIN_PASSWORD:-admin}"
export DEMO_ADMIN_EMAIL="${DEMO_ADMIN_EMAIL:-admin@example.com}"
export DJANGO_SETTINGS_MODULE=example_project.settings
export FLINKS_BASE_URL="${FLINKS_BASE_URL:-http://127.0.0.1:${sandbox_port}}"
export PYTHONUNBUFFERED=1
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
# Win back abandoned checkouts, in demo time: a payer who ticked the reminder box and left gets its email
# (printed here by the console email backend) this many seconds later; the sweep below runs every few seconds.
export FLINKS_RECOVERY_DELAY="${FLINKS_RECOVERY_DELAY:-20}"
export FLINKS_RECOVERY_SITE_URL="${FLINKS_RECOVERY_SITE_URL:-http://${host}:${port}}"
recovery_every="${DEMO_RECOVERY_EVERY:-5}"  # the sandbox app (manage.py flinks_sandbox) is installed only with DEBUG

# DEMO_PYTHON runs the demo with an interpreter that already has the `example` extra (a test, a nox session)
# instead of building .venv.
if [ -n "${DEMO_PYTHON:-}" ]; then
  python="$DEMO_PYTHON"
else
  out="$(scripts/bootstrap.sh)"
  python="${out##*$'\n'}"
  [ "$out" = "$python" ] || printf '%s\n' "${out%$'\n'*}"
fi
mkdir -p var
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/prometheus}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
worker_ready="$PWD/var/demo-worker.ready"  # the worker touches it once it polls (before the banner)
rm -f "$worker_ready"
# The sandbox's control API (/_sandbox/) answers loopback clients showing this token; the banner prints it.
FLINKS_SANDBOX_TOKEN="${FLINKS_SANDBOX_TOKEN:-$("$python" -c 'import secrets; print(secrets.token_urlsafe(24))')}"
export FLINKS_SANDBOX_TOKEN

port_free() {
  "$python" - "$1" "$2" <<'PY'
import socket, sys
with socket.socket() as probe:
    sys.exit(0 if probe.connect_ex((sys.argv[1], int(sys.argv[2]))) else 1)
PY
}
for address in "$host:$port" "127.0.0.1:$sandbox_port"; do
  if ! port_free "${address%:*}" "${address##*:}"; then
    echo "Port ${address##*:} on ${address%:*} is in use: stop what runs there, or set DEMO_PORT / FLINKS_SANDBOX_PORT." >&2
    exit 1
  fi
done

echo "==> migrating the database"
"$python" manage.py migrate --noinput --verbosity 0

echo "==> demo admin: ${DEMO_ADMIN_USERNAME}"
webhook_path="$("$python" - <<'PY'
import os

import django

django.setup()
from django.contrib.auth import get_user_model
from django.urls import reverse

User = get_user_model()
user, _ = User.objects.get_or_create(username=os.environ["DEMO_ADMIN_USERNAME"])
user.email = os.environ["DEMO_ADMIN_EMAIL"]
user.is_staff = user.is_superuser = user.is_active = True
user.set_password(os.environ["DEMO_ADMIN_PASSWORD"])
user.save()
print(reverse("flinks_sessions:webhook"))
PY
)"

# Each child leads its own process group, so stopping one also stops what it started (runserver's reloader).
pids=()
helpers=()
start() {
  if command -v setsid >/dev/null 2>&1; then setsid "$@" & else "$@" & fi
  pids+=("$!")
}
group_alive() { kill -0 -- "-$1" 2>/dev/null || kill -0 "$1" 2>/dev/null; }
stop() {
  trap - INT TERM EXIT
  set +e
  echo
  echo "==> stopping the sandbox, the worker and the server"
  for pid in "${helpers[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 100); do
    alive=0
    for pid in "${pids[@]}"; do group_alive "$pid" && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  echo "==> stopped"
}
# A requested stop (Ctrl-C, or SIGTERM from a process manager, `timeout` or CI) is a success: exit 0 after
# every child has gone. The EXIT trap stops them on any other exit too (an error, a child that died).
trap stop EXIT
trap 'exit 0' INT TERM

start "$python" manage.py flinks_sandbox --host 127.0.0.1 --port "$sandbox_port" \
  --webhook-url "http://${host}:${port}${webhook_path}" --guarantee-webhook
# db_worker that waits out a locked SQLite file (example_project/shop/management/commands/demo_worker.py).
start "$python" manage.py demo_worker --interval 0.2 --worker-id demo-worker --ready-file "$worker_ready"
start "$python" manage.py runserver "${host}:${port}"
# Cron's job in production: send the due abandoned checkouts their one reminder (manage.py flinks_recover_sessions).
start "$python" -c '
import subprocess, sys, time
while True:
    time.sleep(float(sys.argv[2]))
    subprocess.run([sys.argv[1], "manage.py", "flinks_recover_sessions", "--verbosity", "0", "--no-fail-on-error"])
' "$python" "$recovery_every"

# The probe runs in the background and is waited for, so that a signal is acted on at once (bash runs a trap
# only once a foreground command has ended).
wait_until_up() {
  "$python" -c '
import sys, time, urllib.request
deadline = time.monotonic() + 60
while True:
    try:
        urllib.request.urlopen(sys.argv[1], timeout=2)
        sys.exit(0)
    except OSError as error:
        if getattr(error, "code", None):  # an HTTP error status: the server is up
            sys.exit(0)
        if time.monotonic() > deadline:
            sys.exit(f"{sys.argv[1]} did not come up")
        time.sleep(0.2)
' "$1" &
  helpers+=("$!")
  wait "$!"
}
wait_until_up "http://127.0.0.1:${sandbox_port}/_sandbox/health"
wait_until_up "http://${host}:${port}/"
wait_until_up "file://$worker_ready"

cat <<MSG

==> The demo shop is running
    Shop:            http://${host}:${port}/
    Admin:           http://${host}:${port}/admin/   login: ${DEMO_ADMIN_USERNAME} / ${DEMO_ADMIN_PASSWORD}
    Metrics:         http://${host}:${port}/metrics   (Prometheus text)
    Flinks sandbox:  http://127.0.0.1:${sandbox_port}/   (webhooks to http://${host}:${port}${webhook_path})
                     control API token (X-Sandbox-Token): ${FLINKS_SANDBOX_TOKEN}
    Worker:          demo_worker (django-tasks-db's db_worker, tolerant of a locked SQLite file)
    Recovery:        tick "Remind me" at checkout, leave the payment page: ${FLINKS_RECOVERY_DELAY} s later the
                     reminder email is printed here (flinks_recover_sessions runs every ${recovery_every} s); open its link.
    Press Ctrl-C to stop everything.

MSG

# Stay up until Ctrl-C or SIGTERM, or until one of the four stops on its own (then the others are stopped).
set +e
wait -n "${pids[@]}"
status=$?
echo "==> a demo process exited (status $status)" >&2
exit "$status"
