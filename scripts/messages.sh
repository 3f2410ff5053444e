#!/usr/bin/env bash
# Refresh the French catalogues after strings marked for translation changed: `makemessages -l fr` collects them
# into the .po, `compilemessages` writes the .mo Django reads. Both .po and .mo are committed (the wheel carries
# flinks_sessions/locale/fr/LC_MESSAGES/django.mo). Catalogues:
#   flinks_sessions/locale/fr            the app (admin, checkout tag, API errors, checks, commands)
#   example_project/shop/locale/fr       the example shop
# Idempotent: when no marked string changed, makemessages leaves each .po as it is (Django ignores a changed
# POT-Creation-Date alone) and compilemessages skips an up-to-date .mo, so a second run changes no file.
# Then it prints each catalogue's statistics and lists what still needs a translator; exit status 1 when a .po
# holds an untranslated or fuzzy entry (tests/i18n/test_french.py fails on those too). Needs GNU gettext.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
python="$(scripts/bootstrap.sh | tail -n 1)"
bin="$(cd "$(dirname "$python")" && pwd)"  # absolute: the loop below changes directory
for tool in xgettext msgmerge msgfmt msgattrib; do
  command -v "$tool" >/dev/null || { echo "messages.sh needs GNU gettext ($tool): apt-get install gettext" >&2; exit 2; }
done
export DJANGO_SETTINGS_MODULE=tests.settings PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

status=0
for app in flinks_sessions example_project/shop; do
  echo "==> $app"
  mkdir -p "$app/locale"
  (cd "$app" && "$bin/django-admin" makemessages --locale fr --no-location --no-obsolete --verbosity 0 \
    && "$bin/django-admin" compilemessages --locale fr --verbosity 0)
  po="$app/locale/fr/LC_MESSAGES/django.po"
  stats="$(LC_ALL=C msgfmt --check --statistics --output-file /dev/null "$po" 2>&1)"
  echo "$stats"
  if [[ "$stats" == *fuzzy* || "$stats" == *untranslated* ]]; then
    echo "$po: translate these (and drop their fuzzy flag), then run this script again:"
    msgattrib --untranslated --no-obsolete "$po" | sed '1,/^$/d'
    msgattrib --only-fuzzy --no-obsolete "$po" | sed '1,/^$/d'
    status=1
  fi
done
exit "$status"
