"""The hosted Flinks Pay page (``/app/?sessionId=...``) and the small routes it calls.

Real Flinks runs a long bank-login flow inside the iframe; what a merchant's page depends on is only what
crosses the iframe boundary: the ``postMessage`` events and the session status the page's actions cause. This
page reduces the flow to one button per ending, with stable ids for browser tests, and shows the "session
ended" state a cancelled or expired session gets upstream. It is self-contained (inline CSS and JS) and is
never subject to fault injection: faults model the API, not the shopper's browser.
"""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal
from typing import Any

from .scenarios import FAILURE_EVENTS
from .state import (
    TERMINAL,
    Product,
    SandboxState,
    Session,
    SessionNotFoundError,
    SessionTerminalError,
)
from .wire import Request, Response, json_response

PAGE_PATHS = ("/app", "/app/")
ACTION_ROUTE = re.compile(r"^/app/api/(?P<id>[0-9a-fA-F-]{36})(?:/(?P<action>start|complete|fail|touch))?/?$")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "heading": "Flinks Pay sandbox",
        "subtitle": "Test payment: no money moves.",
        "amount": "Amount",
        "reference": "Reference",
        "payor": "Payor",
        "product": "Product",
        "complete": "Complete payment",
        "fail": "Fail payment",
        "abandon": "Abandon",
        "pad_exit": "Exit at PAD warning",
        "ended_title": "This session has ended",
        "ended_body": "This payment session is no longer available. Return to the merchant to start again.",
        "not_found_title": "Session not found",
        "not_found_body": "The link is incomplete or the session does not exist.",
        "done": "Payment complete.",
        "failed": "Payment failed.",
        "closed": "You left the payment flow.",
        "working": "Working…",
        "offer": "Reduced guarantee offer:",
        "guarantee_title": "Guarantee offered",
        "guarantee_body": "Waiting for the merchant to accept or reject the payment guarantee…",
        "events": "Events posted to the merchant page",
        "eft": "EFT",
        "geft": "Guaranteed EFT",
        "etransfer": "Interac e-Transfer",
    },
    "fr": {
        "heading": "Flinks Pay — bac à sable",
        "subtitle": "Paiement d'essai : aucun argent n'est transféré.",
        "amount": "Montant",
        "reference": "Référence",
        "payor": "Payeur",
        "product": "Produit",
        "complete": "Confirmer le paiement",
        "fail": "Faire échouer le paiement",
        "abandon": "Abandonner",
        "pad_exit": "Quitter à l'avertissement DPA",
        "ended_title": "Cette session est terminée",
        "ended_body": (
            "Cette session de paiement n'est plus disponible. Retournez chez le marchand pour recommencer."
        ),
        "not_found_title": "Session introuvable",
        "not_found_body": "Le lien est incomplet ou la session n'existe pas.",
        "done": "Paiement terminé.",
        "failed": "Paiement refusé.",
        "closed": "Vous avez quitté le paiement.",
        "working": "Traitement…",
        "offer": "Offre de garantie réduite :",
        "guarantee_title": "Garantie offerte",
        "guarantee_body": "En attente de la décision du marchand sur la garantie de paiement…",
        "events": "Événements envoyés à la page du marchand",
        "eft": "TEF",
        "geft": "TEF garanti",
        "etransfer": "Virement Interac",
    },
}


def format_amount(amount: Decimal, language: str) -> str:
    """``$1,000.00`` in English, ``1 000,00 $`` in French (Canadian conventions)."""
    text = f"{amount:,.2f}"
    if language == "fr":
        return text.replace(",", "\u00a0").replace(".", ",") + "\u00a0$"
    return "$" + text


def _state_body(session: Session) -> dict[str, Any]:
    return {
        "sessionId": session.session_id,
        "status": session.status_label(),
        "statusDetails": session.visible_details(),
        "terminal": session.terminal,
        "awaitingGuarantee": session.awaiting_guarantee and not session.terminal,
        "step": session.step(),
    }


class HostedPage:
    """Serves the page and its page-internal action routes."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def handle(self, request: Request) -> Response:
        if request.path in PAGE_PATHS:
            if request.method != "GET":
                return Response(405, b"", "text/plain; charset=utf-8", {"Allow": "GET"})
            return self.page(request)
        match = ACTION_ROUTE.match(request.path)
        if match is None:
            return json_response(404, {"ok": False, "error": "not found"})
        action = match["action"]
        expected = "POST" if action else "GET"
        if request.method != expected:
            return json_response(405, {"ok": False, "error": "method not allowed"}, {"Allow": expected})
        return self.action(match["id"].lower(), action)

    # -- page-internal routes --------------------------------------------------------------------------------

    def action(self, session_id: str, action: str | None) -> Response:
        """Drive the session as the shopper would; 409 tells the page to show the ended state."""
        events: list[str] = []
        try:
            if action is None:
                session = self.state.get(session_id)
                return json_response(200, {"ok": True, **_state_body(session)})
            if action == "start":
                session = self.state.start(session_id, source="page")
            elif action == "touch":
                session = self.state.touch(session_id)
            elif action == "complete" and not self.state.get(session_id).scenario.always_fails:
                session = self.state.pay(session_id, source="page")
                if session.product is Product.GEFT:
                    events.append("GUARANTEE_OFFERED")
                if session.status == "Completed":
                    events.append("SUCCESS")
            else:  # "fail", or "complete" on a scenario that always fails
                session = self.state.fail(session_id, source="page")
                event = FAILURE_EVENTS.get(session.status_details or "")
                if event:
                    events.append(event)
        except SessionNotFoundError:
            return json_response(404, {"ok": False, "error": "Session not found"})
        except SessionTerminalError as ended:
            return json_response(409, {"ok": False, **_state_body(ended.session)})
        body = {"ok": True, **_state_body(session), "events": events}
        if session.guarantee is not None:
            body["guarantee"] = session.guarantee
            offered = session.guarantee.get("offeredAmount")
            if offered is not None:
                body["offer"] = format_amount(Decimal(str(offered)), session.scenario.language)
        return json_response(200, body)

    # -- the page --------------------------------------------------------------------------------------------

    def page(self, request: Request) -> Response:
        session_id = (request.query_value("sessionId") or "").strip().lower()
        session: Session | None = None
        if ACTION_ROUTE.match(f"/app/api/{session_id}"):
            try:
                session = self.state.get(session_id)
            except SessionNotFoundError:
                session = None
        language = (request.query_value("lang") or "").lower()
        if language not in TEXTS:
            language = session.scenario.language if session else "en"
        markup = render_page(session, language=language, parent_origin=request.query_value("parentOrigin"))
        headers = {
            "Cache-Control": "no-store",
            "Content-Security-Policy": (
                # No frame-ancestors: any merchant page may frame the sandbox, as any may frame Flinks.
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'"
            ),
        }
        return Response(200 if session else 404, markup.encode("utf-8"), "text/html; charset=utf-8", headers)


def _script_json(data: dict[str, Any]) -> str:
    """JSON safe to place inside a ``<script>`` element."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(session: Session | None, *, language: str = "en", parent_origin: str | None = None) -> str:
    """The whole HTML document for one session (or the not-found state when ``session`` is ``None``)."""
    text = TEXTS.get(language, TEXTS["en"])
    esc = html.escape
    config = {
        "sessionId": session.session_id if session else None,
        "parentOrigin": parent_origin or "*",
        "active": bool(session and session.status not in TERMINAL),
        "texts": {key: text[key] for key in ("done", "failed", "closed", "working", "offer")},
        "awaitingGuarantee": bool(session and session.awaiting_guarantee and session.status not in TERMINAL),
        "language": language,
    }
    if session is None:
        body = f"""
    <section class="state" id="session-not-found">
      <h2>{esc(text["not_found_title"])}</h2>
      <p>{esc(text["not_found_body"])}</p>
    </section>"""
        status = ""
    else:
        payor = f"{session.payor.get('firstName', '')} {session.payor.get('lastName', '')}".strip()
        email = str(session.payor.get("email", ""))
        # A GEFT session created without an amount: the shopper enters it (the scenario's amount here).
        amount = format_amount(session.reported_amount() or session.scenario.amount, language)
        ended_hidden = "" if session.terminal else " hidden"
        flow_hidden = " hidden" if session.terminal else ""
        status = session.status_label()
        body = f"""
    <dl class="facts">
      <div><dt>{esc(text["amount"])}</dt><dd id="amount">{esc(amount)}</dd></div>
      <div><dt>{esc(text["reference"])}</dt><dd id="reference">{esc(session.reference_id or "—")}</dd></div>
      <div><dt>{esc(text["payor"])}</dt>
        <dd id="payor">{esc(payor)}<br><small>{esc(email)}</small></dd></div>
      <div><dt>{esc(text["product"])}</dt><dd id="product">{esc(text[session.product.value])}</dd></div>
    </dl>
    <section id="flow"{flow_hidden}>
      <div class="actions">
        <button type="button" id="complete" class="primary">{esc(text["complete"])}</button>
        <button type="button" id="fail" class="danger">{esc(text["fail"])}</button>
        <button type="button" id="abandon">{esc(text["abandon"])}</button>
        <button type="button" id="pad-exit">{esc(text["pad_exit"])}</button>
      </div>
      <p id="result" role="status" aria-live="polite"></p>
    </section>
    <section class="state" id="guarantee-step" hidden>
      <h2>{esc(text["guarantee_title"])}</h2>
      <p>{esc(text["guarantee_body"])}</p>
      <p id="offer"></p>
    </section>
    <section class="state" id="session-ended"{ended_hidden}>
      <h2>{esc(text["ended_title"])}</h2>
      <p>{esc(text["ended_body"])}</p>
    </section>"""
    return f"""<!doctype html>
<html lang="{esc(language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flinks Pay sandbox</title>
<style>{_CSS}</style>
</head>
<body data-status="{esc(status)}">
<main class="card">
  <header>
    <span class="badge">SANDBOX</span>
    <h1>{esc(text["heading"])}</h1>
    <p class="muted">{esc(text["subtitle"])}</p>
  </header>{body}
  <details class="log"><summary>{esc(text["events"])}</summary><ol id="events"></ol></details>
</main>
<script type="application/json" id="sandbox-config">{_script_json(config)}</script>
<script>{_JS}</script>
</body>
</html>
"""


_CSS = """
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
 font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f5f9;color:#1d2433}
.card{width:min(460px,94vw);background:#fff;border-radius:14px;padding:28px;
 box-shadow:0 10px 30px rgba(20,30,60,.12)}
h1{font-size:1.35rem;margin:.4rem 0 .2rem}h2{font-size:1.1rem;margin:0 0 .4rem}
.muted{color:#5b6477;margin:0 0 1rem}
.badge{display:inline-block;font-size:.7rem;letter-spacing:.08em;font-weight:700;color:#7a4b00;
 background:#ffe6b3;border-radius:999px;padding:2px 10px}
.facts{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin:0 0 1.2rem}
.facts div{background:#f7f8fb;border-radius:10px;padding:10px 12px}
dt{font-size:.75rem;text-transform:uppercase;color:#5b6477}dd{margin:0;font-weight:600;word-break:break-word}
dd small{font-weight:400;color:#5b6477}
#amount{font-size:1.3rem}
.actions{display:grid;grid-template-columns:1fr 1fr;gap:10px}
button{font:inherit;padding:10px 12px;border-radius:10px;border:1px solid #cfd5e2;background:#fff;
 cursor:pointer}
button:hover:not(:disabled){background:#f0f3f9}button:disabled{opacity:.5;cursor:default}
button.primary{background:#1b5cff;border-color:#1b5cff;color:#fff;grid-column:1/-1}
button.primary:hover:not(:disabled){background:#174fd9}
button.danger{color:#b42318;border-color:#f1b5ae}
#result{min-height:1.5em;margin:.8rem 0 0;font-weight:600}
.state{background:#fff4f2;border:1px solid #f6c8c0;border-radius:10px;padding:14px 16px}
.log{margin-top:1.2rem;color:#5b6477;font-size:.85rem}.log ol{margin:.4rem 0 0;padding-left:1.4rem}
[hidden]{display:none!important}
"""

_JS = """
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("sandbox-config").textContent);
  var target = cfg.parentOrigin || "*";
  var settled = !cfg.active;
  var base = "/app/api/" + cfg.sessionId;
  function $(id) { return document.getElementById(id); }
  function post(step) {
    var item = document.createElement("li");
    item.textContent = step;
    $("events").appendChild(item);
    try {
      window.parent.postMessage({step: step, sessionId: cfg.sessionId}, target);
    } catch (error) { /* a wrong parentOrigin must not break the page */ }
  }
  function call(action) {
    var options = action ? {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"} : {};
    return fetch(base + (action ? "/" + action : ""), options).then(function (response) {
      return response.json().then(function (data) { data.httpStatus = response.status; return data; });
    });
  }
  function setStatus(status) { if (status) { document.body.setAttribute("data-status", status); } }
  function buttons(enabled) {
    ["complete", "fail", "abandon", "pad-exit"].forEach(function (id) {
      if ($(id)) { $(id).disabled = !enabled; }
    });
  }
  function ended(status) {
    settled = true;
    setStatus(status);
    if ($("flow")) { $("flow").hidden = true; }
    if ($("session-ended")) { $("session-ended").hidden = false; }
  }
  function say(message) { if ($("result")) { $("result").textContent = message; } }
  var waiting = false;
  function awaitDecision(data) {
    waiting = true;
    setStatus(data.status);
    if ($("flow")) { $("flow").hidden = true; }
    $("guarantee-step").hidden = false;
    if (data.offer) { $("offer").textContent = data.offer; }
  }
  function decided(data) {
    waiting = false;
    $("guarantee-step").hidden = true;
    if ($("flow")) { $("flow").hidden = false; }
    post(data.status === "Completed" ? "SUCCESS" : "GUARANTEE_FAILED");
    settled = true;
    setStatus(data.status);
    say(data.status === "Completed" ? cfg.texts.done : cfg.texts.failed);
  }
  function finish(data) {
    if (data.httpStatus === 409) { ended(data.status); return; }
    if (!data.ok) { say(data.error || "Error"); buttons(true); return; }
    if (data.awaitingGuarantee) { (data.events || []).forEach(post); awaitDecision(data); return; }
    settled = true;
    setStatus(data.status);
    (data.events || []).forEach(post);
    var message = data.status === "Completed" ? cfg.texts.done : cfg.texts.failed;
    var guarantee = data.guarantee;
    if (guarantee && guarantee.offerType === "Reduced") {
      message = cfg.texts.offer + " " + data.offer + ". " + message;
    }
    say(message);
  }
  post("APP_MOUNTED");
  if (!cfg.sessionId || !cfg.active) { return; }
  if (cfg.awaitingGuarantee) { awaitDecision({}); }
  call("start").then(function (data) {
    if (data.httpStatus === 409) { ended(data.status); } else { setStatus(data.status); }
  });
  $("complete").addEventListener("click", function () {
    buttons(false); say(cfg.texts.working); call("complete").then(finish);
  });
  $("fail").addEventListener("click", function () {
    buttons(false); say(cfg.texts.working); call("fail").then(finish);
  });
  $("abandon").addEventListener("click", function () {
    post("CLOSE_ATTEMPT"); post("CLOSE"); buttons(false); say(cfg.texts.closed);
  });
  $("pad-exit").addEventListener("click", function () {
    post("COMPONENT_PAD_WARNING_SCREEN_EXIT"); buttons(false); say(cfg.texts.closed);
  });
  window.setInterval(function () {
    if (settled) { return; }
    call(null).then(function (data) {
      if (waiting && data.terminal) { decided(data); } else if (data.terminal) { ended(data.status); }
    }).catch(function () {});
  }, 1000);
})();
"""
