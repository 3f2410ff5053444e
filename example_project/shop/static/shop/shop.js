/* The shop's own reaction to the hosted flow: checkout.js does the cancelling, this only moves the page on. */
(function () {
  "use strict";
  var box = document.getElementById("shop-checkout");
  if (!box) { return; }
  box.addEventListener("flinks:message", function (event) {
    var step = event.detail.step;
    if (step === "SUCCESS" || step === "GUARANTEE_FAILED") {
      // A browser event is a hint: the thank-you page asks the server, which asks Flinks.
      window.location.assign(box.getAttribute("data-thanks-url"));
    }
  });
  box.addEventListener("flinks:cancel", function (event) {
    if (event.detail.grace) { return; }
    var note = document.getElementById("cancelled-note");
    if (note && document.visibilityState === "visible") { note.hidden = false; }
  });
})();
