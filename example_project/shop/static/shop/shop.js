/* The shop's own reaction to the hosted flow: checkout.js does the cancelling, the ended state and "Start
 * again"; this only moves the page on. */
(function () {
  "use strict";
  var box = document.getElementById("shop-checkout");
  if (!box) { return; }
  box.addEventListener("flinks:message", function (event) {
    if (event.detail.step === "SUCCESS") {
      // A browser event is a hint: the thank-you page asks the server, which asks Flinks.
      window.location.assign(box.getAttribute("data-thanks-url"));
    }
  });
  box.addEventListener("flinks:restarted", function (event) {
    // The address names the new session, so a reload or Back shows it rather than the one that ended.
    var previous = event.detail.previousSessionId;
    var path = window.location.pathname.replace(previous, event.detail.sessionId);
    window.history.replaceState(null, "", path);
    box.setAttribute("data-thanks-url", box.getAttribute("data-thanks-url").replace(previous, event.detail.sessionId));
  });
})();
