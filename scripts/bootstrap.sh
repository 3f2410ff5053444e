#!/usr/bin/env bash
# Build (or refresh) a virtualenv with the project installed in editable mode and its extras.
#   VENV     where (default .venv)
#   EXTRAS   which extras (default dev)
#   DJANGO   a pip requirement for Django (default: the newest the interpreter allows)
#   MIN_PYTHON / EXACT_PYTHON / PYTHON  see scripts/find-python.sh
# Re-installs only when pyproject.toml or these settings change.
# Prints the interpreter's path as its last line on stdout (callers take `| tail -n 1`); what it is doing goes
# to stderr, so `make test` and the other targets show it while the first build runs.
set -euo pipefail
cd "$(dirname "$0")/.."
# This machine's pip configuration names index folders that may not exist; pip's warning for each is noise.
quiet_pip() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
say() { echo "==> $*" >&2; }
venv="${VENV:-.venv}"
extras="${EXTRAS:-dev}"
django="${DJANGO:-}"
python="$(scripts/find-python.sh)"

if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv with $python ($("$python" --version))"
  "$python" -m venv "$venv"
fi
stamp="$venv/.flinks-sessions-installed"
want="$(cat pyproject.toml; echo "extras=$extras django=$django")"
want_hash="$(printf '%s' "$want" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_hash" ]; then
  say "installing flinks-sessions[$extras]${django:+ with $django} into $venv (the first time takes a minute or two)"
  say "upgrading pip"
  quiet_pip "$venv/bin/python" -m pip install --quiet --upgrade pip
  say "installing the package and its dependencies"
  reqs=(-e ".[$extras]")
  [ -n "$django" ] && reqs+=("$django")
  quiet_pip "$venv/bin/python" -m pip install --quiet "${reqs[@]}"
  # Django 5.2 needs the Django Tasks backport, whatever the interpreter.
  if "$venv/bin/python" -c "import django, sys; sys.exit(0 if django.VERSION < (6, 0) else 1)"; then
    say "installing the Django Tasks backport for Django 5.2"
    quiet_pip "$venv/bin/python" -m pip install --quiet -e ".[$extras,django52]" ${django:+"$django"}
  fi
  echo "$want_hash" > "$stamp"
  say "$venv is ready"
fi
echo "$venv/bin/python"
