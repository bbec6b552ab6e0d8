// scan.js keeps the focus in the scan field (input[data-scan]) of the issue
// and check-in pages, so that a barcode scanner, which types the tag and
// Enter wherever the focus is, always types into it. The field has
// autofocus, which needs no script; this only brings the focus back when
// it has gone nowhere (a click on the page's background, the window left
// and come back to), never away from another field or a link a person
// chose, and selects the tag so that the next scan replaces it.
(function () {
  "use strict";
  var field = document.querySelector("input[data-scan]");
  if (!field) {
    return;
  }
  function back() {
    var active = document.activeElement;
    if (!active || active === document.body || active === document.documentElement) {
      field.focus();
    }
  }
  field.addEventListener("focus", function () {
    field.select();
  });
  document.addEventListener("focusout", function () {
    window.setTimeout(back, 0);
  });
  document.addEventListener("click", function () {
    window.setTimeout(back, 0);
  });
  window.addEventListener("focus", back);
  back();
})();
