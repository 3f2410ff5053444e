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
 * - Once the session has ended (a cancel this page sent, GUARANTEE_FAILED, or the stored status read on load,
 *   on every `pageshow` and when the tab becomes visible again) the iframe is removed and one ended state is
 *   shown per outcome (cancelled, expired, failed) with "Start again"; a completed session goes to
 *   data-success-url when the site gave one. Elements of the site's page marked data-flinks-while-open (a
 *   warning that leaving cancels, a link into the hosted flow) are hidden meanwhile; those marked
 *   data-flinks-when-ended are shown.
 * - "Start again" posts the token to data-restart-url and shows the successor in place (one successor however
 *   often it is clicked: the server answers the same one, and the button is disabled while asking). Past the
 *   order's bound (409 with limitReached) it says so ([data-flinks-restart-limit]) instead of "try again".
 * - An e-Transfer whose Interac request Flinks emailed (data-emailed) sends no exit beacon at all: the payer can
 *   still pay it from their bank after leaving (the server would not cancel it either). The site's own "leaving
 *   cancels" warning, marked data-flinks-exit-warning, is hidden for it.
 *
 * API: window.FlinksCheckout
 *   .sessionId            the Flinks session id
 *   .suppressExit()       the coming navigation is intentional: send no beacon for it
 *   .allowExit()          undo suppressExit()
 *   .cancelNow(reason)    cancel now, without leaving (e.g. the shop's own "Cancel" button); reason defaults to
 *                         "manual"; returns true when the request was handed to the browser
 *   .status()             a Promise of {sessionId, status, statusDetails, isTerminal} as this site stores it
 *   .state()              {completed, sent, suppressed, graced, ended, status}
 *   .restart()            "Start again": a Promise of the successor's {sessionId, hostedUrl, ...}
 * Events: each hosted-flow message from the allowed origin is re-dispatched on the [data-flinks-checkout]
 * element as a bubbling CustomEvent "flinks:message" with detail {step, sessionId, data}; a cancel the script
 * sends is announced as "flinks:cancel" with detail {reason, grace}; the ended state as "flinks:ended" with
 * detail {status, sessionId}; a restart as "flinks:restarted" with detail {sessionId, previousSessionId}.
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
    restartUrl: attr("restart-url"),
    successUrl: attr("success-url"),
    token: attr("token"),
    messageOrigin: attr("message-origin"),
    emailed: root.hasAttribute("data-emailed")
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
  var state = {
    completed: root.hasAttribute("data-ended"), sent: false, suppressed: false, graced: false,
    ended: root.hasAttribute("data-ended"), status: attr("status"), restarting: false
  };
  var OUTCOMES = {cancelled: true, expired: true, failed: true, completed: true};
  var live = root.querySelector("[data-flinks-live]");
  var ended = root.querySelector("[data-flinks-ended]");
  var frameHeight = "720";
  var frameTitle = "";
  var initialFrame = root.querySelector("iframe");
  if (initialFrame) {
    frameHeight = initialFrame.getAttribute("height") || frameHeight;
    frameTitle = initialFrame.getAttribute("title") || "";
  }

  function each(selector, callback) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), callback);
  }

  // The site's own page: what only applies while the payment can go on, and what only applies after it ended.
  function showPageFor(isEnded) {
    each("[data-flinks-while-open]", function (element) { element.hidden = isEnded; });
    each("[data-flinks-when-ended]", function (element) { element.hidden = !isEnded; });
    hideExitWarnings();
  }

  // "Leaving cancels the payment" is not true of an Interac request Flinks emailed.
  function hideExitWarnings() {
    if (config.emailed) { each("[data-flinks-exit-warning]", function (element) { element.hidden = true; }); }
  }

  // One clear ended state per outcome, in place of the hosted flow (which can do nothing more).
  function showEnded(status) {
    if (!OUTCOMES[status]) { status = "cancelled"; }
    if (status === "completed" && config.successUrl) {
      state.completed = true;
      state.suppressed = true;
      window.location.assign(config.successUrl);
      return;
    }
    var wasEnded = state.ended && state.status === status;
    state.completed = true;
    state.ended = true;
    state.status = status;
    if (live) {
      live.hidden = true;
      var frame = live.querySelector("iframe");
      if (frame) { frame.parentNode.removeChild(frame); }
    }
    if (ended) {
      ended.hidden = false;
      Array.prototype.forEach.call(ended.querySelectorAll("[data-flinks-outcome]"), function (element) {
        element.hidden = element.getAttribute("data-flinks-outcome") !== status;
      });
      var restartable = ended.querySelector("[data-flinks-restartable]");
      if (restartable) { restartable.hidden = status === "completed" || !config.restartUrl; }
    }
    showPageFor(true);
    if (!wasEnded) { emit("flinks:ended", {status: status, sessionId: config.sessionId}); }
  }

  function showLive(hostedUrl) {
    state.completed = false;
    state.sent = false;
    state.graced = false;
    state.ended = false;
    state.status = "initiated";
    if (ended) { ended.hidden = true; }
    if (live) {
      var frame = document.createElement("iframe");
      frame.className = "flinks-checkout__frame";
      frame.src = hostedUrl;
      frame.title = frameTitle;
      frame.width = "100%";
      frame.height = frameHeight;
      frame.setAttribute("allow", "clipboard-write");
      frame.setAttribute("referrerpolicy", "strict-origin-when-cross-origin");
      live.appendChild(frame);
      live.hidden = false;
    }
    showPageFor(false);
  }

  // What this site has stored decides: a page restored by Back or from a cache may be showing a stale state.
  function refresh() {
    if (state.restarting || !config.statusUrl) { return; }
    status().then(function (data) {
      if (data && data.isTerminal && String(data.sessionId).toLowerCase() === config.sessionId.toLowerCase()) {
        showEnded(data.status);
      }
    }).catch(function () {});
  }

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
    if (config.emailed || state.completed || (state.sent && !upgrade) || !config.exitUrl) { return false; }
    state.sent = post(config.exitUrl, body(reason, grace));
    state.graced = state.sent && Boolean(grace);
    if (state.sent) { emit("flinks:cancel", {reason: reason, grace: Boolean(grace)}); }
    return state.sent;
  }

  // The shopper abandoned in the hosted flow (or the site's own Cancel): the payment is over on this page.
  function abandon(reason) {
    var sent = exit(reason, false);
    if (sent) { showEnded("cancelled"); }
    return sent;
  }

  function form(params) {
    return {
      method: "POST", body: params, credentials: "same-origin", headers: {Accept: "application/json"}
    };
  }

  // "Start again": the server creates (once) the session that replaces this one; show it in place.
  function restart() {
    if (state.restarting) { return Promise.reject(new Error("already restarting")); }
    state.restarting = true;
    var button = root.querySelector("[data-flinks-restart]");
    var failure = root.querySelector("[data-flinks-restart-error]");
    var limit = root.querySelector("[data-flinks-restart-limit]");
    if (button) { button.disabled = true; }
    if (failure) { failure.hidden = true; }
    if (limit) { limit.hidden = true; }
    var previous = config.sessionId;
    function ask(triesLeft) {
      return window.fetch(config.restartUrl, form(body("restart", false))).then(function (response) {
        if (response.status === 409) {
          return response.json().then(function (data) {
            if (data.limitReached) { throw new Error("restart limit"); }
            if (!data.pending || triesLeft <= 0) { throw new Error("not restartable"); }
            return new Promise(function (resolve) { window.setTimeout(resolve, 400); })
              .then(function () { return ask(triesLeft - 1); });
          });
        }
        if (!response.ok) { throw new Error("restart " + response.status); }
        return response.json();
      });
    }
    return ask(10).then(function (data) {
      config.sessionId = data.sessionId;
      config.token = data.token;
      config.exitUrl = data.exitUrl;
      config.resumeUrl = data.resumeUrl;
      config.statusUrl = data.statusUrl;
      config.restartUrl = data.restartUrl;
      // A success URL naming the old session names the new one (e.g. /pay/<id>/done/).
      config.successUrl = config.successUrl.split(previous).join(data.sessionId);
      root.setAttribute("data-session-id", data.sessionId);
      root.removeAttribute("data-ended");
      window.FlinksCheckout.sessionId = data.sessionId;
      state.restarting = false;
      if (button) { button.disabled = false; }
      showLive(data.hostedUrl);
      emit("flinks:restarted", {sessionId: data.sessionId, previousSessionId: previous});
      return data;
    }, function (error) {
      state.restarting = false;
      if (button) { button.disabled = false; }
      var shown = error && error.message === "restart limit" && limit ? limit : failure;
      if (shown) { shown.hidden = false; }
      throw error;
    });
  }

  // The token travels in a header: a URL holding it would be written to every access log on the way.
  function status() {
    var headers = {Accept: "application/json", "X-Flinks-Exit-Token": config.token};
    return window.fetch(config.statusUrl, {credentials: "same-origin", headers: headers})
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
      // A hint, not proof: the success page should read the stored status (or sync it) before it thanks.
      if (message.step === "SUCCESS" && config.successUrl) { showEnded("completed"); }
    } else if (CANCEL_STEPS[message.step]) {
      abandon(CANCEL_STEPS[message.step]);
    }
    emit("flinks:message", {step: message.step, sessionId: config.sessionId, data: message.data});
    if (message.step === "GUARANTEE_FAILED") { showEnded("failed"); }
  });

  window.addEventListener("pagehide", function (event) {
    if (state.suppressed) { return; }
    exit("pagehide", event.persisted);
  });

  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      state.suppressed = false;
      if (state.graced) {
        state.graced = false;
        state.sent = false;
        post(config.resumeUrl, body("pageshow", false));
      }
    }
    // On load, and back from the back/forward cache (the cancel may have happened meanwhile).
    refresh();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !state.ended) { refresh(); }
  });
  if (state.ended) { showEnded(state.status); }
  hideExitWarnings();
  root.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("[data-flinks-restart]") : null;
    if (!button) { return; }
    event.preventDefault();
    restart().catch(function () {});
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
    cancelNow: function (reason) { return abandon(reason || "manual"); },
    status: status,
    restart: restart,
    state: function () {
      return {
        completed: state.completed, sent: state.sent, suppressed: state.suppressed, graced: state.graced,
        ended: state.ended, status: state.status
      };
    }
  };
})(window, document);
