// signature.js is the signature pad of the signing page: the client draws
// on a <canvas> with a finger, a stylus or a mouse (pointer events, one
// code path for all three), "Clear" starts again, and on submit the drawing
// goes into the hidden signature_png field as a data:image/png URL, which
// the server decodes, checks and prints on the agreement. Without this
// script (or without pointer events) the "drawn" choice stays hidden and
// the typed name and the signature in ink remain.
(function () {
  "use strict";
  var form = document.getElementById("sign-form");
  if (!form || !window.PointerEvent) {
    return;
  }
  var canvas = form.querySelector("canvas");
  var out = form.querySelector('input[name="signature_png"]');
  var drawn = form.querySelector('input[name="method"][value="drawn"]');
  if (!canvas || !canvas.getContext || !out || !drawn) {
    return;
  }
  Array.prototype.forEach.call(form.querySelectorAll("[data-drawn]"), function (el) {
    el.hidden = false;
  });
  if (!form.querySelector('input[name="method"]:checked')) {
    drawn.checked = true;
  }
  var ctx = canvas.getContext("2d");
  var inked = false;
  var last = null;

  // A white ground: the server looks for ink, and a transparent PNG
  // prints as the page beneath it anyway.
  function blank() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#000";
    inked = false;
  }
  // The canvas is drawn at 600 × 200 and shown at the width of the
  // screen: a pointer's place is scaled to the drawing's.
  function at(e) {
    var r = canvas.getBoundingClientRect();
    return { x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height };
  }
  function line(from, to) {
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    inked = true;
  }
  blank();
  canvas.addEventListener("pointerdown", function (e) {
    e.preventDefault();
    try {
      canvas.setPointerCapture(e.pointerId); // strokes that leave the pad still end
    } catch (err) {
      // a pointer the browser does not know (a synthetic one): no capture
    }
    last = at(e);
    line(last, { x: last.x + 0.1, y: last.y }); // a dot
    drawn.checked = true;
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!last) {
      return;
    }
    e.preventDefault();
    var p = at(e);
    line(last, p);
    last = p;
  });
  function end() {
    last = null;
  }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  form.querySelector("[data-clear]").addEventListener("click", function () {
    blank();
    out.value = "";
  });
  form.addEventListener("submit", function () {
    out.value = drawn.checked && inked ? canvas.toDataURL("image/png") : "";
  });
})();
