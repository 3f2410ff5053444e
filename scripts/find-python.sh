#!/usr/bin/env bash
# Print the path of a Python interpreter for the project's virtualenv.
# Wants >= 3.12 (Django 6.x) unless MIN_PYTHON says otherwise (3.11 for the Django 5.2 leg).
# Looks at $PYTHON, then python3.13/python3.12 on PATH, then pyenv's versions, then python3.
set -euo pipefail
min="${MIN_PYTHON:-3.12}"
want_major="${min%%.*}"
want_minor="${min#*.}"

ok() {
  "$1" -c "import sys, venv; sys.exit(0 if sys.version_info[:2] >= (${want_major}, ${want_minor}) else 1)" 2>/dev/null
}
exact() {  # for MIN_PYTHON=3.11 the matrix wants 3.11 itself, not a newer one
  "$1" -c "import sys; sys.exit(0 if sys.version_info[:2] == (${want_major}, ${want_minor}) else 1)" 2>/dev/null
}

candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
if [ -n "${EXACT_PYTHON:-}" ]; then
  candidates+=("python${min}")
  root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
  for dir in $(ls -d "$root"/versions/"${min}".* 2>/dev/null | sort -rV); do candidates+=("$dir/bin/python"); done
  candidates+=(python3)
  for c in "${candidates[@]}"; do
    path="$(command -v "$c" 2>/dev/null || true)"
    if [ -n "$path" ] && exact "$path"; then echo "$path"; exit 0; fi
  done
  echo "No Python ${min} found (set PYTHON=/path/to/python${min})." >&2
  exit 1
fi
candidates+=(python3.13 python3.12)
root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
for dir in $(ls -d "$root"/versions/3.1[3-9].* "$root"/versions/3.12.* 2>/dev/null | sort -rV); do
  candidates+=("$dir/bin/python")
done
candidates+=(python3 python)
for c in "${candidates[@]}"; do
  path="$(command -v "$c" 2>/dev/null || true)"
  if [ -n "$path" ] && ok "$path"; then echo "$path"; exit 0; fi
done
echo "No Python >= ${min} found. Install one (e.g. 'pyenv install 3.13') or set PYTHON=/path/to/python3.13." >&2
exit 1
