"""French, because Flinks serves Quebec: what an operator, a shopper and a developer see in ``fr``.

The first tests read like a user's view (the admin with ``Accept-Language: fr``, the checkout tag, the beacon's
errors, ``manage.py check``, a command's output); the last ones guard the catalogues themselves: complete, not
fuzzy, compiled (Django reads only the ``.mo``, which the wheel carries) and in step with the marked strings.
``scripts/messages.sh`` refreshes them.
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

import flinks_sessions
from flinks_sessions.api import exit_token
from flinks_sessions.checks import check_settings
from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Product, Status
from tests.extras import missing
from tests.factories import new_session

ROOT = Path(__file__).resolve().parents[2]
APP = Path(flinks_sessions.__file__).resolve().parent
CATALOGUES = {
    "app": APP / "locale" / "fr" / "LC_MESSAGES",
    "shop": ROOT / "example_project" / "shop" / "locale" / "fr" / "LC_MESSAGES",
}
NBSP = "\u00a0"  # French puts a non-breaking space before a colon


@pytest.fixture(autouse=True)
def _keep_language() -> Iterator[None]:
    """LocaleMiddleware activates French in this thread; the next test must not inherit it."""
    with translation.override(translation.get_language()):
        yield


def with_locale_middleware(middleware: list[str]) -> list[str]:
    """The site's middleware with LocaleMiddleware where Django's docs put it: after sessions, before common."""
    index = middleware.index("django.contrib.sessions.middleware.SessionMiddleware") + 1
    return [*middleware[:index], "django.middleware.locale.LocaleMiddleware", *middleware[index:]]


# --- the operator: the admin ---------------------------------------------------------------------------


@pytest.fixture
def french_admin(settings: Any, db: Any) -> Client:
    """A superuser's browser that asks for Canadian French, on a site with LocaleMiddleware."""
    settings.MIDDLEWARE = with_locale_middleware(settings.MIDDLEWARE)
    client = Client(HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9,en;q=0.5")
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", password=None))
    return client


def test_the_changelist_speaks_french(french_admin: Client) -> None:
    new_session(reference_id="ORDER-1", status=Status.IN_PROGRESS, product=Product.GEFT)
    new_session(reference_id="ORDER-2", status=Status.CANCELLED, product=Product.ETRANSFER)
    new_session(reference_id="ORDER-3", status=Status.COMPLETED, product=Product.EFT)

    response = french_admin.get(reverse("admin:flinks_sessions_paymentsession_changelist"))

    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    html = response.content.decode()
    # the actions
    assert ">Annuler les sessions sélectionnées</option>" in html
    assert ">Synchroniser le statut depuis Flinks</option>" in html
    # status badges and products, in the rows
    for label in ("En cours", "Annulée", "Terminée", "TEF garanti", "Virement Interac", "TEF"):
        assert f">{label}<" in html, label
    # the model and its columns
    assert "Sessions de paiement" in html
    assert "Référence" in html
    assert "Montant" in html


def test_the_cancel_confirmation_speaks_french_with_the_right_plural(french_admin: Client) -> None:
    url = reverse("admin:flinks_sessions_paymentsession_changelist")
    one, two = new_session(), new_session(reference_id="ORDER-2")
    ended = new_session(reference_id="ORDER-3", status=Status.EXPIRED)

    def confirm(*sessions: PaymentSession) -> str:
        data = {"action": "cancel_selected_sessions", "_selected_action": [s.pk for s in sessions]}
        response = french_admin.post(url, data)
        assert response.status_code == 200
        return response.content.decode()

    single = confirm(one)
    assert f"Annuler cette session de paiement chez Flinks{NBSP}? L'acheteur ne pourra plus payer" in single
    assert "Oui, les annuler" in single

    several = confirm(one, two, ended)
    assert f"Annuler ces 2 sessions de paiement chez Flinks{NBSP}?" in several
    assert "Ces sessions ont déjà pris fin ou sont inconnues de Flinks" in several
    assert "Expirée" in several


def test_a_refused_cancel_is_explained_in_french(french_admin: Client) -> None:
    session = new_session(status=Status.COMPLETED)
    response = french_admin.get(
        reverse("admin:flinks_sessions_paymentsession_cancel", args=[session.pk]), follow=True
    )
    messages = [str(message) for message in response.context["messages"]]
    assert messages == [
        f"Cette session ne peut pas être annulée{NBSP}: son statut est «{NBSP}Terminée{NBSP}»."
    ]


# --- the shopper: the checkout tag and the beacon ---------------------------------------------------------


def test_the_checkout_tag_speaks_french() -> None:
    template = Template("{% load flinks_sessions %}{% flinks_checkout session %}")
    request = RequestFactory().get("/checkout/")
    with translation.override("fr"):
        unavailable = template.render(Context({"session": None, "request": request}))
        available = template.render(
            Context({"session": PaymentSession(session_id=uuid.uuid4(), amount="1.00"), "request": request})
        )
    assert "Cette session de paiement n'est pas disponible. Veuillez recommencer le paiement." in unavailable
    assert 'title="Payer par compte bancaire avec Flinks"' in available


@pytest.mark.django_db
def test_the_beacon_answers_in_french() -> None:
    cache.clear()  # the throttle counts in the default cache
    unknown = uuid.uuid4()
    client = Client()
    with translation.override("fr"):
        missing = client.post(
            reverse("flinks_sessions:session-exit", args=[unknown]), {"token": exit_token(unknown)}
        )
        forged = client.post(reverse("flinks_sessions:session-exit", args=[unknown]), {"token": "forged"})
    cache.clear()

    assert missing.status_code == 404
    assert missing.json() == {"detail": "Session inconnue."}
    assert forged.status_code == 403
    assert forged.json() == {"detail": "Un jeton de sortie valide pour cette session est requis."}


@pytest.mark.django_db
def test_the_example_shop_speaks_french(settings: Any) -> None:
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "example_project.shop"]
    settings.ROOT_URLCONF = "example_project.urls"
    settings.MIDDLEWARE = with_locale_middleware(settings.MIDDLEWARE)
    client = Client(HTTP_ACCEPT_LANGUAGE="fr-CA")

    listing = client.get("/").content.decode()
    page = client.get("/products/canoe-paddle/").content.decode()

    assert '<html lang="fr">' in listing
    assert "<h1>Produits</h1>" in listing
    assert f"249,50{NBSP}$" in listing  # and the amounts, the French way (a space that never breaks)
    assert f"Courriel{NBSP}:" in page
    assert ">Payer par compte bancaire</button>" in page


# --- the developer: checks and commands -------------------------------------------------------------------


def test_system_checks_speak_french(settings: Any) -> None:
    settings.FLINKS_SESSIONS = None
    with translation.override("fr"):
        (message,) = check_settings()
    assert message.id == "flinks_sessions.E001"
    assert message.msg == "FLINKS_SESSIONS n'est pas défini."
    assert message.hint.startswith("Ajoutez FLINKS_SESSIONS = {'ACCOUNTS': ")
    assert message.hint.endswith("Consultez le tableau des réglages dans le README de flinks-sessions.")


def test_system_checks_stay_english_by_default(settings: Any) -> None:
    settings.FLINKS_SESSIONS = None
    with translation.override("en"):
        (message,) = check_settings()
    assert message.msg == "FLINKS_SESSIONS is not set."


@pytest.mark.django_db
def test_a_command_speaks_french() -> None:
    out = StringIO()
    with translation.override("fr"):
        call_command("flinks_prune_webhooks", "--older-than", "30d", "--dry-run", stdout=out)
    assert out.getvalue().startswith("Supprimerait 0 des 0 webhooks reçus avant ")


# --- the catalogues ---------------------------------------------------------------------------------------


def read_po(path: Path) -> tuple[dict[str, str], dict[Any, str], list[str]]:
    """(header, {msgid or (msgid, n): msgstr}, fuzzy msgids) of a .po file, without polib."""
    entries: dict[Any, str] = {}
    fuzzy: list[str] = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        fields: dict[str, str] = {}
        key = ""
        flags: list[str] = []
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                flags += [flag.strip() for flag in line[2:].split(",")]
            elif line.startswith("#"):
                continue  # comments, and obsolete (#~) entries, which Django never sees
            elif line.startswith('"'):
                fields[key] += ast.literal_eval(line)
            else:
                key, _, value = line.partition(" ")
                fields[key] = ast.literal_eval(value)
        if "msgid" not in fields:
            continue
        msgid = fields["msgid"]
        if "msgctxt" in fields:
            msgid = f"{fields['msgctxt']}\x04{msgid}"
        if "fuzzy" in flags:
            fuzzy.append(msgid)
        if "msgid_plural" in fields:
            for name, value in fields.items():
                if name.startswith("msgstr["):
                    entries[(msgid, int(name[7:-1]))] = value
        else:
            entries[msgid] = fields.get("msgstr", "")
    header = dict(line.split(": ", 1) for line in entries.pop("", "").splitlines() if ": " in line)
    return header, entries, fuzzy


@pytest.fixture(params=sorted(CATALOGUES))
def catalogue(request: pytest.FixtureRequest) -> Path:
    return CATALOGUES[request.param]


def test_the_wheel_carries_the_compiled_catalogue() -> None:
    assert (APP / "locale" / "fr" / "LC_MESSAGES" / "django.mo").is_file()
    assert (APP / "locale" / "fr" / "LC_MESSAGES" / "django.po").is_file()


def test_every_entry_is_translated_and_none_is_fuzzy(catalogue: Path) -> None:
    header, entries, fuzzy = read_po(catalogue / "django.po")
    assert header["Language"] == "fr"
    assert header["Plural-Forms"] == "nplurals=2; plural=(n > 1);"
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    untranslated = [msgid for msgid, msgstr in entries.items() if not msgstr]
    assert not untranslated, f"untranslated entries (run scripts/messages.sh): {untranslated}"
    placeholders = re.compile(r"%\([a-z_]+\)[sdr]|%[sd]")
    for msgid, msgstr in entries.items():
        source = msgid[0] if isinstance(msgid, tuple) else msgid
        # the singular may leave out the count ("Annuler cette session"); nothing may be added or misspelt
        assert set(placeholders.findall(msgstr)) <= set(placeholders.findall(source)) | {"%(counter)s"}, msgid


def test_french_punctuation_has_its_non_breaking_space(catalogue: Path) -> None:
    """``Statut : Amorcée``, ``chez Flinks ?``, ``« Terminée »``: never a plain space, never none."""
    compiled = gettext.GNUTranslations((catalogue / "django.mo").open("rb"))
    wrong = []
    for msgid, msgstr in compiled._catalog.items():  # type: ignore[attr-defined]
        if not msgid or not isinstance(msgstr, str):
            continue
        if re.search(r"(?:[^\s\u00a0]|(?<= ))[:;!?»](?=\s|$)|«(?!\u00a0)", msgstr):
            wrong.append(msgstr)
    assert not wrong, wrong


def test_the_compiled_catalogue_is_up_to_date(catalogue: Path) -> None:
    """What Django reads (.mo) says exactly what the .po says: nobody edited one and forgot to compile."""
    _, entries, _ = read_po(catalogue / "django.po")
    with (catalogue / "django.mo").open("rb") as compiled:
        catalog = dict(gettext.GNUTranslations(compiled)._catalog)  # type: ignore[attr-defined]
    header = catalog.pop("")
    assert "Plural-Forms: nplurals=2; plural=(n > 1);" in header
    assert catalog == entries, "run scripts/messages.sh to recompile"


def test_msgfmt_accepts_the_catalogue(catalogue: Path) -> None:
    """GNU's own checks: format strings, plural forms, header; and its count of what is left to do."""
    if shutil.which("msgfmt") is None:
        missing("gettext", "GNU gettext (msgfmt) is not installed")
    result = subprocess.run(  # noqa: S603 - msgfmt, read-only
        [shutil.which("msgfmt") or "msgfmt", "--check", "--statistics", "-o", "/dev/null", "django.po"],
        cwd=catalogue,
        capture_output=True,
        text=True,
        check=False,
        env={"LC_ALL": "C"},
    )
    assert result.returncode == 0, result.stderr
    assert "fuzzy" not in result.stderr, result.stderr
    assert "untranslated" not in result.stderr, result.stderr


def test_the_catalogue_holds_every_marked_string(tmp_path: Path) -> None:
    """makemessages on a copy of the app finds nothing the committed .po lacks (or still holds, unused)."""
    if shutil.which("xgettext") is None:
        missing("gettext", "GNU gettext (xgettext) is not installed")
    copy = tmp_path / "flinks_sessions"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    subprocess.run(  # Django's own makemessages, on the copy
        [
            sys.executable,
            "-m",
            "django",
            "makemessages",
            "-l",
            "fr",
            "--no-location",
            "--no-obsolete",
            "-v",
            "0",
        ],
        cwd=copy,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    _, committed, _ = read_po(APP / "locale" / "fr" / "LC_MESSAGES" / "django.po")
    _, collected, _ = read_po(copy / "locale" / "fr" / "LC_MESSAGES" / "django.po")
    new = sorted(map(str, set(collected) - set(committed)))
    gone = sorted(map(str, set(committed) - set(collected)))
    assert not new, f"marked strings not in the catalogue; run scripts/messages.sh and translate: {new}"
    assert not gone, f"the catalogue holds strings no longer marked; run scripts/messages.sh: {gone}"
