/*!
 * flinks-sessions checkout.js: ends the Flinks Pay session when the shopper leaves the checkout page.
 *
 * No dependencies, no build step. Loaded by {% flinks_checkout session %} and configured by the data-
 * attributes of the [data-flinks-checkout] element (no inline script: a strict Content-Security-Policy works).
 *
 * The rules (docs/architecture.md; the events: docs/flinks-api.md, "Hosted-flow browser events"):
 * - The exit beacon fires on `pagehide` only, never on `visibilitychange`: a shopper switching to a banking
 *   app is not leaving. It is a form-encoded navigator.sendBeacon (fetch with keepalive when that fails).
 * - Never after the hosted flow posted SUCCESS (or GUARANTEE_FAILED: the session has ended at Flinks).
 * - CLOSE, COMPONENT_PAD_WARNING_SCREEN_EXIT, COMPONENT_OTHER_FUNDING_OPTIONS_SELECTED and
 *   COMPONENT_NBO_RETURN_TO_CLIENT_SELECTED cancel at once, without leaving the page.
 * - Messages are only read from the hosted page's origin (data-message-origin).
 * - A `pagehide` into the back/forward cache (event.persisted) asks for a delayed cancel (grace=1); the
 *   `pageshow` that brings the page back takes it back.
 * - A link or form marked data-flinks-no-exit (or a call to FlinksCheckout.suppressExit()) is an intentional
 *   navigation, e.g. into the hosted flow as a full page: no beacon for it.
 * - At most one cancel per page life, unless a graced one was taken back; an explicit exit (CLOSE...) after a
 *   graced one is sent too, and the pageshow resume then takes nothing back.
 *
 * API: window.FlinksCheckout
 *   .sessionId            the Flinks session id
 *   .suppressExit()       the coming navigation is intentional: send no beacon for it
 *   .allowExit()          undo suppressExit()
 *   .cancelNow(reason)    cancel now, without leaving (e.g. the shop's own "Cancel" button); reason defaults to
 *                         "manual"; returns true when the request was handed to the browser
 *   .status()             a Promise of {sessionId, status, statusDetails, isTerminal} as this site stores it
 *   .state()              {completed, sent, suppressed, graced}
 * Events: each hosted-flow message from the allowed origin is re-dispatched on the [data-flinks-checkout]
 * element as a bubbling CustomEvent "flinks:message" with detail {step, sessionId, data}; a cancel the script
 * sends is announced as "flinks:cancel" with detail {reason, grace}.
 */
(function (window, document) {
  "use strict";

  if (window.FlinksCheckout) { return; }
  var root = document.querySelector("[data-flinks-checkout]");
  if (!root) { return; }

  function attr(name) { return root.getAttribute("data-" + name) || ""; }

  var config = {
    sessionId: attr("session-id"),
    exitUrl: attr("exit-url"),
    resumeUrl: attr("resume-url"),
    statusUrl: attr("status-url"),
    token: attr("token"),
    messageOrigin: attr("message-origin")
  };
  // The shopper has left the hosted flow for good: cancel at once (docs/flinks-api.md, "Hosted-flow browser events").
  var CANCEL_STEPS = {
    CLOSE: "close",
    COMPONENT_PAD_WARNING_SCREEN_EXIT: "pad_exit",
    COMPONENT_OTHER_FUNDING_OPTIONS_SELECTED: "other_funding",
    COMPONENT_NBO_RETURN_TO_CLIENT_SELECTED: "return_to_client"
  };
  // The session has ended at Flinks: there is nothing left to cancel, ever.
  var DONE_STEPS = {SUCCESS: true, GUARANTEE_FAILED: true};
  var state = {completed: root.hasAttribute("data-ended"), sent: false, suppressed: false, graced: false};

  function emit(name, detail) {
    var event;
    try {
      event = new CustomEvent(name, {bubbles: true, detail: detail});
    } catch (error) {
      return;
    }
    root.dispatchEvent(event);
  }

  function body(reason, grace) {
    var params = new URLSearchParams();
    params.set("token", config.token);
    params.set("reason", reason);
    if (grace) { params.set("grace", "1"); }
    return params;
  }

  // A URLSearchParams body is sent as application/x-www-form-urlencoded by both sendBeacon and fetch.
  function post(url, params) {
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(url, params)) { return true; }
    } catch (error) { /* fall back to fetch */ }
    try {
      window.fetch(url, {method: "POST", body: params, keepalive: true, credentials: "same-origin"})
        .catch(function () {});
      return true;
    } catch (error) {
      return false;
    }
  }

  // An explicit exit (CLOSE...) after a graced one is still sent: it makes the cancel explicit, so the
  // pageshow that follows has nothing to take back.
  function exit(reason, grace) {
    var upgrade = state.sent && state.graced && !grace;
    if (state.completed || (state.sent && !upgrade) || !config.exitUrl) { return false; }
    state.sent = post(config.exitUrl, body(reason, grace));
    state.graced = state.sent && Boolean(grace);
    if (state.sent) { emit("flinks:cancel", {reason: reason, grace: Boolean(grace)}); }
    return state.sent;
  }

  function status() {
    var url = config.statusUrl + (config.statusUrl.indexOf("?") < 0 ? "?" : "&") +
      "token=" + encodeURIComponent(config.token);
    return window.fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      });
  }

  function stepOf(data) {
    if (typeof data === "string" && data.charAt(0) === "{") {
      try { data = JSON.parse(data); } catch (error) { return {step: data, data: data}; }
    }
    if (typeof data === "string") { return {step: data, data: data}; }
    if (data && typeof data === "object" && typeof data.step === "string") { return {step: data.step, data: data}; }
    return null;
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== config.messageOrigin) { return; }
    var message = stepOf(event.data);
    if (!message) { return; }
    var sender = message.data && typeof message.data === "object" ? message.data.sessionId : null;
    if (sender && String(sender).toLowerCase() !== config.sessionId.toLowerCase()) { return; }
    if (DONE_STEPS[message.step]) {
      state.completed = true;
    } else if (CANCEL_STEPS[message.step]) {
      exit(CANCEL_STEPS[message.step], false);
    }
    emit("flinks:message", {step: message.step, sessionId: config.sessionId, data: message.data});
  });

  window.addEventListener("pagehide", function (event) {
    if (state.suppressed) { return; }
    exit("pagehide", event.persisted);
  });

  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    state.suppressed = false;
    if (!state.graced) { return; }
    state.graced = false;
    state.sent = false;
    post(config.resumeUrl, body("pageshow", false));
    // Back after the grace period: the cancel may have happened. Let the hosted page show the truth.
    status().then(function (data) {
      if (data.isTerminal) {
        var frame = root.querySelector("iframe");
        if (frame) { frame.src = frame.src; }
      }
    }).catch(function () {});
  });

  // An intentional navigation (data-flinks-no-exit): listen on window, after the page's own handlers, so a
  // click or submit that something else cancelled does not disarm the beacon.
  function marked(element) {
    return element && element.closest ? element.closest("[data-flinks-no-exit]") : null;
  }
  window.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey ||
        event.altKey) { return; }
    var link = event.target && event.target.closest ? event.target.closest("a[href], area[href]") : null;
    if (!link || !marked(link)) { return; }
    var target = (link.getAttribute("target") || "").toLowerCase();
    if (target && target !== "_self" && target !== "_top" && target !== "_parent") { return; }
    state.suppressed = true;
  });
  window.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    if (marked(event.target) || marked(event.submitter)) { state.suppressed = true; }
  });

  window.FlinksCheckout = {
    sessionId: config.sessionId,
    suppressExit: function () { state.suppressed = true; },
    allowExit: function () { state.suppressed = false; },
    cancelNow: function (reason) { return exit(reason || "manual", false); },
    status: status,
    state: function () {
      return {completed: state.completed, sent: state.sent, suppressed: state.suppressed, graced: state.graced};
    }
  };
})(window, document);
