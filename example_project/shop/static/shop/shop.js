/* The shop's own reaction to the hosted flow: checkout.js does the cancelling, the ended state and "Start
 * again"; this only moves the page on. */
(function () {
  "use strict";
  var box = document.getElementById("shop-checkout");
  if (!box) { return; }
  // SUCCESS goes to the thank-you page through the tag's success_url (a hint: that page asks Flinks).
  box.addEventListener("flinks:restarted", function (event) {
    // The address names the new session, so a reload or Back shows it rather than the one that ended.
    var previous = event.detail.previousSessionId;
    var path = window.location.pathname.replace(previous, event.detail.sessionId);
    window.history.replaceState(null, "", path);
  });
})();
