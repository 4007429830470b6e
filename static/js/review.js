// The review screen: A approves, R rejects, ← and → step through the images.
// Zoom and pan as in the editor (wheel, + − 0, the buttons; Space+drag or the
// middle button pans); L shows or hides the class names (remembered); click a
// box or drag a region to pin a comment to it (the mark form in the panel).
(function () {
  "use strict";

  const LABELS_KEY = "batchboard.review.labels";
  const TAG_PX = 12; // class names and mark numbers, in screen pixels
  const MIN_DRAG = 3; // screen pixels before a press becomes a region

  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const views = new Map(); // image id → {scale, tx, ty}: the view survives a decision or a mark
  let view = null;
  let spaceHeld = false;

  function parts() {
    const frame = document.getElementById("review-frame");
    if (!frame) return null;
    return {
      frame: frame,
      viewport: document.getElementById("review-viewport"),
      svg: document.getElementById("review-svg"),
      W: Number(frame.dataset.width),
      H: Number(frame.dataset.height),
    };
  }

  // --- zoom and pan: the frame (image and boxes together) is scaled and moved as one ------

  function applyView() {
    const p = parts();
    if (!p) return;
    p.frame.style.transform = "translate(" + view.tx + "px, " + view.ty + "px) scale(" + view.scale + ")";
    // Outlines keep their width on screen: the stylesheet divides them by the zoom.
    p.frame.style.setProperty("--zoom", view.scale);
    p.frame.classList.toggle("pixelated", p.svg.getScreenCTM().a >= 4);
    const out = document.getElementById("review-zoom");
    if (out) out.textContent = Math.round(view.scale * 100) + "%";
    layoutTags(p);
  }

  function zoomAt(factor, cx, cy) {
    const next = clamp(view.scale * factor, 0.5, 40);
    const f = next / view.scale;
    view.tx = cx - (cx - view.tx) * f;
    view.ty = cy - (cy - view.ty) * f;
    view.scale = next;
    applyView();
  }

  // A point of the screen, relative to the frame's place before zooming.
  function local(p, clientX, clientY) {
    const r = p.viewport.getBoundingClientRect();
    return { x: clientX - r.left - p.frame.offsetLeft, y: clientY - r.top - p.frame.offsetTop };
  }

  function zoomCentre(factor) {
    const p = parts();
    if (!p) return;
    const r = p.viewport.getBoundingClientRect();
    const c = local(p, r.left + r.width / 2, r.top + r.height / 2);
    zoomAt(factor, c.x, c.y);
  }

  function fit() {
    view.scale = 1;
    view.tx = 0;
    view.ty = 0;
    applyView();
  }

  // The class names and mark numbers keep one size on screen at every zoom.
  function layoutTags(p) {
    const unit = p.svg.getScreenCTM().a || 1; // screen pixels per image pixel
    const size = TAG_PX / unit;
    const pad = 3 / unit;
    p.svg.querySelectorAll(".tag").forEach((tag) => {
      const box = p.svg.querySelector('[data-box="' + tag.dataset.tagFor + '"]');
      const rect = tag.querySelector("rect");
      const text = tag.querySelector("text");
      text.setAttribute("font-size", size);
      const width = text.getComputedTextLength() + 2 * pad;
      const height = size + 2 * pad;
      const bx = Number(box.getAttribute("x"));
      const by = Number(box.getAttribute("y"));
      const x = clamp(bx, 0, Math.max(0, p.W - width));
      const y = by - height >= 0 ? by - height : by;
      rect.setAttribute("x", x);
      rect.setAttribute("y", y);
      rect.setAttribute("width", width);
      rect.setAttribute("height", height);
      text.setAttribute("x", x + pad);
      text.setAttribute("y", y + pad + size * 0.85);
    });
    p.svg.querySelectorAll(".mark").forEach((mark) => {
      const region = mark.querySelector(".mark-region");
      const badge = mark.querySelector(".mark-badge");
      const text = mark.querySelector("text");
      const side = size * 1.5;
      const right = Number(region.getAttribute("x")) + Number(region.getAttribute("width"));
      const x = Math.max(Number(region.getAttribute("x")), right - side);
      const y = Number(region.getAttribute("y"));
      badge.setAttribute("x", x);
      badge.setAttribute("width", side);
      badge.setAttribute("height", side);
      text.setAttribute("font-size", size);
      text.setAttribute("x", x + side / 2);
      text.setAttribute("y", y + side * 0.74);
    });
  }

  // --- class names on or off, remembered --------------------------------------------------

  function labelsShown() {
    try {
      return window.localStorage.getItem(LABELS_KEY) !== "hidden";
    } catch (err) {
      return true;
    }
  }

  function showLabels(shown) {
    try {
      window.localStorage.setItem(LABELS_KEY, shown ? "shown" : "hidden");
    } catch (err) {
      // Private windows may refuse storage: the toggle still works for this page.
    }
    const p = parts();
    if (p) p.frame.classList.toggle("labels-hidden", !shown);
    const button = document.querySelector("[data-toggle-labels]");
    if (button) button.setAttribute("aria-pressed", shown ? "true" : "false");
  }

  // --- marks: what the next comment is pinned to ----------------------------------------------

  function regionInputs() {
    return document.querySelectorAll("#mark-form [data-region]");
  }

  function say(text) {
    const target = document.getElementById("mark-target");
    if (target) target.textContent = text;
    const error = document.getElementById("mark-error");
    if (error) error.hidden = true;
  }

  function showDrawing(p, r) {
    const drawing = p.svg.querySelector(".drawing");
    drawing.setAttribute("x", r.x);
    drawing.setAttribute("y", r.y);
    drawing.setAttribute("width", r.w);
    drawing.setAttribute("height", r.h);
    drawing.setAttribute("visibility", r.w && r.h ? "visible" : "hidden");
  }

  function pickBox(id) {
    const p = parts();
    if (!p) return;
    const radio = document.querySelector('[data-pick-box][value="' + id + '"]');
    if (!radio) return;
    radio.checked = true;
    regionInputs().forEach((input) => (input.value = ""));
    showDrawing(p, { x: 0, y: 0, w: 0, h: 0 });
    p.svg.querySelectorAll(".rbox").forEach((box) => box.classList.toggle("picked", box.dataset.box === String(id)));
    const group = radio.closest("details");
    if (group) group.open = true;
    say("Comment on box: " + radio.closest("li").textContent.trim() + " (" + (radio.closest("details").querySelector(".class-name").textContent) + ").");
    document.getElementById("mark-comment").focus({ preventScroll: true });
  }

  function pickRegion(p, r) {
    document.querySelectorAll("[data-pick-box]").forEach((radio) => (radio.checked = false));
    p.svg.querySelectorAll(".rbox.picked").forEach((box) => box.classList.remove("picked"));
    const values = { x: r.x, y: r.y, width: r.w, height: r.h };
    regionInputs().forEach((input) => (input.value = values[input.dataset.region]));
    showDrawing(p, r);
    say("Comment on the region " + r.w + "×" + r.h + " at (" + r.x + ", " + r.y + ").");
    document.getElementById("mark-comment").focus({ preventScroll: true });
  }

  function toImage(p, evt) {
    const point = p.svg.createSVGPoint();
    point.x = evt.clientX;
    point.y = evt.clientY;
    return point.matrixTransform(p.svg.getScreenCTM().inverse());
  }

  function rectFrom(p, a, b) {
    const x0 = Math.round(clamp(Math.min(a.x, b.x), 0, p.W));
    const y0 = Math.round(clamp(Math.min(a.y, b.y), 0, p.H));
    const x1 = Math.round(clamp(Math.max(a.x, b.x), 0, p.W));
    const y1 = Math.round(clamp(Math.max(a.y, b.y), 0, p.H));
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }

  // --- the pointer: click a box, drag a region, pan ----------------------------------------------

  let drag = null;

  function onPointerDown(evt) {
    const p = parts();
    if (!p) return;
    if (evt.button === 1 || (evt.button === 0 && spaceHeld)) {
      drag = { mode: "pan", sx: evt.clientX, sy: evt.clientY, tx: view.tx, ty: view.ty };
      p.viewport.classList.add("grabbing");
    } else if (evt.button === 0) {
      p.viewport.focus({ preventScroll: true });
      const box = evt.target.closest("[data-box]");
      drag = { mode: "mark", sx: evt.clientX, sy: evt.clientY, start: toImage(p, evt), box: box && box.dataset.box, moved: false };
    } else {
      return;
    }
    p.viewport.setPointerCapture(evt.pointerId);
    evt.preventDefault();
  }

  function onPointerMove(evt) {
    const p = parts();
    if (!drag || !p) return;
    if (drag.mode === "pan") {
      view.tx = drag.tx + evt.clientX - drag.sx;
      view.ty = drag.ty + evt.clientY - drag.sy;
      applyView();
      return;
    }
    if (!drag.moved && Math.hypot(evt.clientX - drag.sx, evt.clientY - drag.sy) < MIN_DRAG) return;
    drag.moved = true;
    drag.rect = rectFrom(p, drag.start, toImage(p, evt));
    showDrawing(p, drag.rect);
  }

  function onPointerUp(evt) {
    const p = parts();
    const done = drag;
    drag = null;
    if (!done || !p) return;
    p.viewport.classList.remove("grabbing");
    if (p.viewport.hasPointerCapture(evt.pointerId)) p.viewport.releasePointerCapture(evt.pointerId);
    if (done.mode !== "mark" || evt.type !== "pointerup") return;
    if (done.moved && done.rect.w >= 1 && done.rect.h >= 1) pickRegion(p, done.rect);
    else if (!done.moved && done.box) pickBox(done.box);
  }

  function onWheel(evt) {
    const p = parts();
    if (!p) return;
    evt.preventDefault();
    const c = local(p, evt.clientX, evt.clientY);
    const delta = evt.deltaY * (evt.deltaMode === 1 ? 16 : 1);
    zoomAt(Math.exp(-delta * 0.0015), c.x, c.y);
  }

  // --- the stage is replaced after every decision and mark: set it up again ----------------------

  function setUp() {
    const p = parts();
    if (!p) return;
    view = views.get(p.frame.dataset.image) || { scale: 1, tx: 0, ty: 0 };
    views.set(p.frame.dataset.image, view);
    p.viewport.addEventListener("pointerdown", onPointerDown);
    p.viewport.addEventListener("pointermove", onPointerMove);
    p.viewport.addEventListener("pointerup", onPointerUp);
    p.viewport.addEventListener("pointercancel", onPointerUp);
    p.viewport.addEventListener("mousedown", (evt) => evt.button === 1 && evt.preventDefault());
    p.viewport.addEventListener("wheel", onWheel, { passive: false });
    document.querySelectorAll("[data-pick-box]").forEach((radio) => {
      radio.addEventListener("change", () => radio.checked && pickBox(radio.value));
    });
    const form = document.getElementById("mark-form");
    if (form) {
      form.addEventListener("htmx:confirm", (evt) => {
        const picked = form.querySelector("[data-region]").value || document.querySelector("[data-pick-box]:checked");
        if (!picked) {
          evt.preventDefault();
          showError("Click a box or drag a region on the image first.");
        }
      });
    }
    showLabels(labelsShown());
    const img = p.frame.querySelector("img");
    if (img.complete) applyView();
    else img.addEventListener("load", applyView, { once: true });
    applyView();
    p.frame.dataset.ready = "true"; // the keys and the pointer reach this image now
  }

  function showError(message) {
    const error = document.getElementById("mark-error");
    if (error) {
      error.textContent = message;
      error.hidden = false;
    }
  }

  window.Batchboard.toastMs = 4000;
  function toast(message, level) {
    window.Batchboard.toast(message, level);
  }

  document.addEventListener("htmx:afterSwap", (evt) => {
    if (evt.detail.target && evt.detail.target.id === "stage") setUp();
  });
  document.addEventListener("htmx:responseError", (evt) => {
    const xhr = evt.detail.xhr;
    const message = (xhr.getResponseHeader("Content-Type") || "").startsWith("text/plain") ? xhr.responseText : "The server refused this (" + xhr.status + ").";
    if (evt.detail.elt && evt.detail.elt.id === "mark-form") showError(message);
    else toast(message, "error");
  });
  window.addEventListener("resize", () => view && applyView());

  document.addEventListener("click", (evt) => {
    const zoom = evt.target.closest("[data-zoom]");
    if (zoom) {
      if (zoom.dataset.zoom === "in") zoomCentre(1.25);
      else if (zoom.dataset.zoom === "out") zoomCentre(0.8);
      else fit();
      return;
    }
    if (evt.target.closest("[data-toggle-labels]")) showLabels(!labelsShown());
  });

  const VIEW_KEYS = {
    "+": () => zoomCentre(1.25),
    "=": () => zoomCentre(1.25),
    "-": () => zoomCentre(0.8),
    _: () => zoomCentre(0.8),
    0: fit,
    l: () => showLabels(!labelsShown()),
    escape: () => {
      // Forget what the next mark would be pinned to.
      const p = parts();
      if (!p) return;
      showDrawing(p, { x: 0, y: 0, w: 0, h: 0 });
      regionInputs().forEach((input) => (input.value = ""));
      document.querySelectorAll("[data-pick-box]").forEach((radio) => (radio.checked = false));
      p.svg.querySelectorAll(".rbox.picked").forEach((box) => box.classList.remove("picked"));
      say("Click a box or drag a region on the image.");
    },
  };

  document.addEventListener("keydown", (evt) => {
    // Enter in the comment box rejects with that comment (the comment is only for rejections).
    if (evt.key === "Enter" && evt.target.id === "comment") {
      const reject = document.querySelector('#stage [data-key="r"]');
      if (reject) {
        evt.preventDefault();
        reject.click();
      }
      return;
    }
    if (evt.ctrlKey || evt.metaKey || evt.altKey) return;
    if (evt.target.closest("input, textarea, select")) return;
    // Space pans while held over the image (a focused button keeps Space for itself).
    if (evt.key === " " && document.getElementById("review-viewport") && !evt.target.closest("button, a, summary")) {
      spaceHeld = true;
      document.getElementById("review-viewport").classList.add("grab");
      evt.preventDefault();
      return;
    }
    const key = evt.key.toLowerCase();
    if (VIEW_KEYS[key] && parts()) {
      evt.preventDefault();
      VIEW_KEYS[key]();
      return;
    }
    const target = document.querySelector('#stage [data-key="' + key + '"]');
    if (!target) return;
    evt.preventDefault();
    target.click();
  });

  document.addEventListener("keyup", (evt) => {
    if (evt.key !== " ") return;
    spaceHeld = false;
    const viewport = document.getElementById("review-viewport");
    if (viewport) viewport.classList.remove("grab");
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
