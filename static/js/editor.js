// The annotation editor: boxes over one image, drawn, selected, moved and
// resized with the mouse; classes by list or hotkey; zoom and pan; undo and
// redo; every change saved on its own with the image's edit version.
(function () {
  "use strict";

  const root = document.getElementById("editor");
  if (!root) return;

  const SVG = "http://www.w3.org/2000/svg";
  const W = Number(root.dataset.width);
  const H = Number(root.dataset.height);
  const viewport = document.getElementById("viewport");
  const stage = document.getElementById("stage");
  const overlay = document.getElementById("overlay");
  const help = document.getElementById("help");
  const labels = JSON.parse(document.getElementById("editor-labels").textContent);
  const labelById = new Map(labels.map((l) => [l.id, l]));
  const HANDLE = 9; // handle size, screen pixels
  const MIN_DRAG = 3; // screen pixels before a press becomes a drag

  // --- the document: boxes in pixels of the original image -----------------

  let nextId = 1;
  const doc = {
    boxes: JSON.parse(document.getElementById("editor-boxes").textContent).map((b) => ({
      id: nextId++,
      label: b.label,
      x: b.x,
      y: b.y,
      w: b.width,
      h: b.height,
    })),
    empty: root.dataset.state === "empty",
  };
  let selected = null; // id of the selected box
  let current = labels.length ? labels[0].id : null; // class for new boxes
  const undoStack = [];
  const redoStack = [];

  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const byId = (id) => doc.boxes.find((b) => b.id === id) || null;
  const snapshot = () => ({ boxes: doc.boxes.map((b) => ({ ...b })), empty: doc.empty });
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  function restore(snap) {
    doc.boxes = snap.boxes.map((b) => ({ ...b }));
    doc.empty = snap.empty;
    if (selected !== null && !byId(selected)) selected = null;
  }

  // Record a change made since ``before`` was taken: undo entry, redraw, save.
  function changed(before) {
    if (same(before, snapshot())) return;
    undoStack.push(before);
    redoStack.length = 0;
    afterChange();
  }

  function change(mutate) {
    const before = snapshot();
    mutate();
    changed(before);
  }

  function afterChange() {
    render();
    save();
  }

  function undo() {
    if (!undoStack.length) return;
    redoStack.push(snapshot());
    restore(undoStack.pop());
    afterChange();
  }

  function redo() {
    if (!redoStack.length) return;
    undoStack.push(snapshot());
    restore(redoStack.pop());
    afterChange();
  }

  // --- view: zoom and pan ------------------------------------------------------

  let scale = 1;
  let tx = 0;
  let ty = 0;
  let fitted = true;

  function fitScale() {
    const pad = 16;
    const r = viewport.getBoundingClientRect();
    return Math.max(0.01, Math.min((r.width - 2 * pad) / W, (r.height - 2 * pad) / H));
  }

  function fit() {
    const r = viewport.getBoundingClientRect();
    scale = fitScale();
    tx = (r.width - W * scale) / 2;
    ty = (r.height - H * scale) / 2;
    fitted = true;
    applyView();
  }

  function zoomAt(factor, cx, cy) {
    const fs = fitScale();
    const next = clamp(scale * factor, Math.min(fs, 1) / 4, Math.max(32, fs * 4));
    const f = next / scale;
    tx = cx - (cx - tx) * f;
    ty = cy - (cy - ty) * f;
    scale = next;
    fitted = false;
    applyView();
  }

  function zoomCentre(factor) {
    const r = viewport.getBoundingClientRect();
    zoomAt(factor, r.width / 2, r.height / 2);
  }

  function applyView() {
    stage.style.width = W * scale + "px";
    stage.style.height = H * scale + "px";
    stage.style.transform = "translate(" + tx + "px, " + ty + "px)";
    stage.classList.toggle("pixelated", scale >= 4);
    document.getElementById("zoom-level").textContent = Math.round(scale * 100) + "%";
    render();
  }

  function toImage(evt) {
    const r = viewport.getBoundingClientRect();
    return { x: (evt.clientX - r.left - tx) / scale, y: (evt.clientY - r.top - ty) / scale };
  }

  // --- drawing the overlay and the side panel ----------------------------------------

  function el(name, attrs) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  function colorOf(box) {
    const label = labelById.get(box.label);
    return label ? label.color : "#6b7280";
  }

  function nameOf(box) {
    const label = labelById.get(box.label);
    return label ? label.name : "unknown class";
  }

  function drawTag(box, color) {
    const size = 12 / scale;
    const pad = 3 / scale;
    const g = el("g", { class: "tag" });
    const text = el("text", { "font-size": size, fill: "#fff" });
    text.textContent = nameOf(box);
    g.append(text);
    overlay.append(g);
    const width = text.getComputedTextLength() + 2 * pad;
    const height = size + 2 * pad;
    const above = box.y - height >= 0;
    const x = clamp(box.x, 0, Math.max(0, W - width));
    const y = above ? box.y - height : box.y;
    text.setAttribute("x", x + pad);
    text.setAttribute("y", y + pad + size * 0.85);
    g.insertBefore(el("rect", { x: x, y: y, width: width, height: height, fill: color }), text);
  }

  function render() {
    overlay.replaceChildren();
    // Large boxes first, so a small box inside a large one stays clickable.
    const order = [...doc.boxes].sort((a, b) => b.w * b.h - a.w * a.h);
    for (const box of order) {
      const color = colorOf(box);
      const g = el("g", { class: "box" + (box.id === selected ? " selected" : ""), "data-id": box.id });
      g.append(el("rect", { x: box.x, y: box.y, width: box.w, height: box.h, stroke: color, fill: color }));
      overlay.append(g);
    }
    for (const box of order) drawTag(box, colorOf(box));
    const box = selected !== null ? byId(selected) : null;
    if (box) {
      const s = HANDLE / scale;
      for (const [name, hx, hy] of handles(box)) {
        overlay.append(el("rect", { class: "handle handle-" + name, "data-handle": name, x: hx - s / 2, y: hy - s / 2, width: s, height: s }));
      }
    }
    if (drag && drag.mode === "draw" && drag.moved) {
      const r = drag.rect;
      overlay.append(el("rect", { class: "drawing", x: r.x, y: r.y, width: r.w, height: r.h, stroke: colorOf({ label: current }) }));
    }
    renderSide();
  }

  function handles(b) {
    const cx = b.x + b.w / 2;
    const cy = b.y + b.h / 2;
    return [
      ["nw", b.x, b.y], ["n", cx, b.y], ["ne", b.x + b.w, b.y], ["e", b.x + b.w, cy],
      ["se", b.x + b.w, b.y + b.h], ["s", cx, b.y + b.h], ["sw", b.x, b.y + b.h], ["w", b.x, cy],
    ];
  }

  const boxList = document.getElementById("box-list");
  const emptyButton = root.querySelector('[data-action="empty"]');

  function renderSide() {
    document.getElementById("box-count").textContent = doc.boxes.length;
    document.getElementById("no-boxes").hidden = doc.boxes.length > 0;
    boxList.replaceChildren();
    doc.boxes.forEach((box, i) => {
      const li = document.createElement("li");
      li.className = "box-item" + (box.id === selected ? " selected" : "");
      const pick = document.createElement("button");
      pick.type = "button";
      pick.className = "box-select";
      pick.dataset.select = box.id;
      pick.setAttribute("aria-pressed", box.id === selected ? "true" : "false");
      pick.setAttribute("aria-label", "Box " + (i + 1) + ": " + nameOf(box) + ", " + Math.round(box.w) + " by " + Math.round(box.h));
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colorOf(box);
      const name = document.createElement("span");
      name.textContent = nameOf(box);
      const size = document.createElement("span");
      size.className = "muted small";
      size.textContent = Math.round(box.w) + "×" + Math.round(box.h);
      pick.append(swatch, name, size);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "box-delete";
      remove.dataset.remove = box.id;
      remove.setAttribute("aria-label", "Delete box " + (i + 1) + " (" + nameOf(box) + ")");
      remove.textContent = "×";
      li.append(pick, remove);
      boxList.append(li);
    });
    document.querySelectorAll(".class-button").forEach((button) => {
      button.setAttribute("aria-pressed", Number(button.dataset.label) === current ? "true" : "false");
    });
    emptyButton.setAttribute("aria-pressed", doc.empty ? "true" : "false");
    emptyButton.firstChild.textContent = doc.empty ? "Marked empty " : "Mark empty ";
    root.querySelector('[data-action="undo"]').disabled = !undoStack.length;
    root.querySelector('[data-action="redo"]').disabled = !redoStack.length;
  }

  document.querySelectorAll(".class-button").forEach((button) => {
    button.querySelector(".swatch").style.background = button.dataset.color;
  });

  // --- editing -------------------------------------------------------------------------

  function select(id) {
    selected = id;
    const box = id !== null ? byId(id) : null;
    if (box && labelById.has(box.label)) current = box.label;
    render();
  }

  function pick(labelId) {
    current = labelId;
    const box = selected !== null ? byId(selected) : null;
    if (box && box.label !== labelId) {
      change(() => {
        box.label = labelId;
      });
    } else {
      render();
    }
  }

  function pickHotkey(n) {
    const label = labels.find((l) => l.hotkey === n);
    if (!label) {
      toast("No class has hotkey " + n + ".");
      return;
    }
    pick(label.id);
  }

  function removeBox(id) {
    if (!byId(id)) return;
    change(() => {
      doc.boxes = doc.boxes.filter((b) => b.id !== id);
      if (selected === id) selected = null;
    });
  }

  function toggleEmpty() {
    if (doc.boxes.length) {
      toast("This image has boxes: delete them before marking it empty.");
      return;
    }
    change(() => {
      doc.empty = !doc.empty;
    });
  }

  // --- the mouse ----------------------------------------------------------------------------

  let drag = null;
  let spaceHeld = false;

  function rectFrom(a, b) {
    const x0 = Math.round(clamp(Math.min(a.x, b.x), 0, W));
    const y0 = Math.round(clamp(Math.min(a.y, b.y), 0, H));
    const x1 = Math.round(clamp(Math.max(a.x, b.x), 0, W));
    const y1 = Math.round(clamp(Math.max(a.y, b.y), 0, H));
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }

  viewport.addEventListener("pointerdown", (evt) => {
    if (evt.button === 1 || (evt.button === 0 && spaceHeld)) {
      drag = { mode: "pan", sx: evt.clientX, sy: evt.clientY, tx: tx, ty: ty };
      viewport.classList.add("grabbing");
    } else if (evt.button === 0) {
      viewport.focus({ preventScroll: true });
      const p = toImage(evt);
      const handle = evt.target.closest("[data-handle]");
      const boxNode = evt.target.closest("[data-id]");
      const base = { sx: evt.clientX, sy: evt.clientY, start: p, before: snapshot(), moved: false };
      if (handle && selected !== null) {
        drag = { ...base, mode: "resize", handle: handle.dataset.handle, orig: { ...byId(selected) } };
      } else if (boxNode) {
        select(Number(boxNode.dataset.id));
        drag = { ...base, mode: "move", orig: { ...byId(selected) } };
      } else {
        if (current === null) {
          toast("This project has no label classes yet, so there is nothing to draw.");
          return;
        }
        if (selected !== null) select(null);
        drag = { ...base, mode: "draw", rect: rectFrom(p, p) };
      }
    } else {
      return;
    }
    viewport.setPointerCapture(evt.pointerId);
    evt.preventDefault();
  });

  viewport.addEventListener("pointermove", (evt) => {
    if (!drag) return;
    if (drag.mode === "pan") {
      tx = drag.tx + evt.clientX - drag.sx;
      ty = drag.ty + evt.clientY - drag.sy;
      fitted = false;
      applyView();
      return;
    }
    if (!drag.moved && Math.hypot(evt.clientX - drag.sx, evt.clientY - drag.sy) < MIN_DRAG) return;
    drag.moved = true;
    const p = toImage(evt);
    if (drag.mode === "draw") {
      drag.rect = rectFrom(drag.start, p);
    } else if (drag.mode === "move") {
      const box = byId(selected);
      const o = drag.orig;
      box.x = Math.round(clamp(o.x + p.x - drag.start.x, 0, W - o.w));
      box.y = Math.round(clamp(o.y + p.y - drag.start.y, 0, H - o.h));
    } else if (drag.mode === "resize") {
      const box = byId(selected);
      const o = drag.orig;
      let [left, top, right, bottom] = [o.x, o.y, o.x + o.w, o.y + o.h];
      if (drag.handle.includes("w")) left = p.x;
      if (drag.handle.includes("e")) right = p.x;
      if (drag.handle.includes("n")) top = p.y;
      if (drag.handle.includes("s")) bottom = p.y;
      const r = rectFrom({ x: left, y: top }, { x: right, y: bottom });
      if (r.w >= 1 && r.h >= 1) Object.assign(box, r);
    }
    render();
  });

  function endDrag(evt) {
    if (!drag) return;
    const done = drag;
    drag = null;
    viewport.classList.remove("grabbing");
    if (viewport.hasPointerCapture(evt.pointerId)) viewport.releasePointerCapture(evt.pointerId);
    if (done.mode === "draw") {
      const r = done.rect;
      if (done.moved && r.w >= 1 && r.h >= 1 && evt.type === "pointerup") {
        const box = { id: nextId++, label: current, ...r };
        doc.boxes.push(box);
        doc.empty = false;
        selected = box.id;
        changed(done.before);
      } else {
        render();
      }
    } else if (done.mode === "move" || done.mode === "resize") {
      changed(done.before);
    }
  }

  viewport.addEventListener("pointerup", endDrag);
  viewport.addEventListener("pointercancel", endDrag);
  // The middle button pans here, not the browser's autoscroll.
  viewport.addEventListener("mousedown", (evt) => evt.button === 1 && evt.preventDefault());
  viewport.addEventListener("auxclick", (evt) => evt.preventDefault());

  viewport.addEventListener(
    "wheel",
    (evt) => {
      evt.preventDefault();
      const r = viewport.getBoundingClientRect();
      const delta = evt.deltaY * (evt.deltaMode === 1 ? 16 : 1);
      zoomAt(Math.exp(-delta * 0.0015), evt.clientX - r.left, evt.clientY - r.top);
    },
    { passive: false },
  );

  // --- buttons and keys -------------------------------------------------------------------

  root.addEventListener("click", (evt) => {
    const classButton = evt.target.closest(".class-button");
    if (classButton) return pick(Number(classButton.dataset.label));
    const pickBox = evt.target.closest("[data-select]");
    if (pickBox) return select(Number(pickBox.dataset.select));
    const remove = evt.target.closest("[data-remove]");
    if (remove) return removeBox(Number(remove.dataset.remove));
    const action = evt.target.closest("[data-action]");
    if (!action) return;
    const actions = {
      "zoom-in": () => zoomCentre(1.25),
      "zoom-out": () => zoomCentre(0.8),
      fit: fit,
      undo: undo,
      redo: redo,
      empty: toggleEmpty,
      help: () => help.showModal(),
      reload: () => window.location.reload(),
      retry: save,
      confirm: () => { action.closest("section").hidden = true; save(); },
    };
    if (actions[action.dataset.action]) actions[action.dataset.action]();
  });

  root.querySelectorAll("[data-nav]").forEach((link) => {
    link.addEventListener("click", (evt) => {
      evt.preventDefault();
      go(link.dataset.nav);
    });
  });

  const KEYS = {
    Delete: () => selected !== null && removeBox(selected),
    Backspace: () => selected !== null && removeBox(selected),
    Escape: () => {
      if (drag && drag.mode === "draw") {
        drag = null;
        render();
      } else {
        select(null);
      }
    },
    n: toggleEmpty,
    ArrowRight: () => go("next"),
    d: () => go("next"),
    ArrowLeft: () => go("previous"),
    a: () => go("previous"),
    "+": () => zoomCentre(1.25),
    "=": () => zoomCentre(1.25),
    "-": () => zoomCentre(0.8),
    _: () => zoomCentre(0.8),
    0: fit,
    "?": () => help.showModal(),
  };

  function typing(target) {
    return target instanceof Element && target.closest("input, textarea, select, [contenteditable]");
  }

  document.addEventListener("keydown", (evt) => {
    if (typing(evt.target)) return;
    if (help.open) {
      if (evt.key === "?") {
        help.close();
        evt.preventDefault();
      }
      return;
    }
    if (evt.ctrlKey || evt.metaKey) {
      if (evt.altKey) return;
      const key = evt.key.toLowerCase();
      if (key === "z" && !evt.shiftKey) undo();
      else if ((key === "z" && evt.shiftKey) || key === "y") redo();
      else return;
      evt.preventDefault();
      return;
    }
    if (evt.altKey) return;
    if (evt.key === " ") {
      spaceHeld = true;
      viewport.classList.add("grab");
      evt.preventDefault();
      return;
    }
    if (/^[1-9]$/.test(evt.key)) {
      pickHotkey(Number(evt.key));
      evt.preventDefault();
      return;
    }
    const handler = KEYS[evt.key] || KEYS[evt.key.toLowerCase()];
    if (!handler) return;
    evt.preventDefault();
    handler();
  });

  document.addEventListener("keyup", (evt) => {
    if (evt.key === " ") {
      spaceHeld = false;
      viewport.classList.remove("grab");
      if (!typing(evt.target)) evt.preventDefault();
    }
  });

  window.addEventListener("resize", () => {
    if (fitted) fit();
  });

  // --- saving -----------------------------------------------------------------------------

  const saveUrl = root.dataset.saveUrl;
  const statusLine = document.getElementById("save-status");
  const alertBox = document.getElementById("editor-alert");
  let version = Number(root.dataset.version);
  let inFlight = false;
  let pending = false; // a change not yet sent
  let failed = false; // the last save was refused or did not arrive
  let stale = false; // someone else saved first: stop saving until a reload
  let waiters = [];

  function setStatus(text, kind) {
    statusLine.textContent = text;
    statusLine.dataset.kind = kind || "";
  }

  function showAlert(text, { reload = false, retry = false } = {}) {
    alertBox.querySelector("[data-alert-text]").textContent = text;
    alertBox.querySelector('[data-action="reload"]').hidden = !reload;
    alertBox.querySelector('[data-action="retry"]').hidden = !retry;
    alertBox.hidden = false;
  }

  function settle() {
    if (inFlight || (pending && !failed && !stale)) return;
    const ok = !pending;
    waiters.forEach((resolve) => resolve(ok));
    waiters = [];
  }

  // Resolves true once every change is saved, false when one could not be.
  function flush() {
    return new Promise((resolve) => {
      waiters.push(resolve);
      settle();
    });
  }

  function save() {
    pending = true;
    if (stale) return;
    failed = false;
    if (!inFlight) send();
    else setStatus("Saving…");
  }

  async function send() {
    inFlight = true;
    pending = false;
    setStatus("Saving…");
    const body = JSON.stringify({
      version: version,
      empty: doc.empty,
      boxes: doc.boxes.map((b) => ({ label: b.label, x: b.x, y: b.y, width: b.w, height: b.h })),
    });
    let response = null;
    let data = null;
    try {
      response = await fetch(saveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": root.dataset.csrf },
        body: body,
      });
      data = await response.json().catch(() => null);
    } catch (err) {
      response = null;
    }
    inFlight = false;
    if (response && response.ok && data && typeof data.version === "number") {
      version = data.version;
      showProgress(data);
      alertBox.hidden = true;
      if (pending) return send();
      setStatus("Saved", "ok");
      settle();
      return;
    }
    pending = true;
    failed = true;
    const message = data && data.error ? data.error.message : "";
    if (!response) {
      setStatus("Not saved", "error");
      showAlert("Could not reach the server, so the last change is not saved yet.", { retry: true });
    } else if (response.status === 409) {
      stale = true;
      setStatus("Not saved", "error");
      if (data && data.error && data.error.type === "stale") {
        showAlert("Another tab or person saved this image first, so your last change was not saved. Reload to see their boxes.", { reload: true });
      } else {
        showAlert(message || "This image can no longer be edited here.", { reload: true });
      }
    } else if (!data) {
      setStatus("Not saved", "error");
      showAlert("The server did not accept the save (has your session ended?). Reload the page to continue.", { reload: true });
    } else {
      setStatus("Not saved", "error");
      showAlert(message || "The server refused the save (" + response.status + ").", { retry: response.status >= 500 });
    }
    settle();
  }

  // --- the label queue: the image stays reserved while they work on it ------------------------

  // Some activity since the last renewal (a pointer, a key, the wheel) and the tab in view: the hold
  // is renewed every data-hold-seconds. An open tab nobody works in lets the reservation expire.
  const holdUrl = root.dataset.holdUrl;
  let lost = false; // the queue handed this image to someone else: nothing here can be saved
  const FINAL = ["not_held", "forbidden", "not_found"];
  if (holdUrl) {
    let worked = false;
    ["pointerdown", "pointermove", "keydown", "wheel"].forEach((type) =>
      document.addEventListener(type, () => { worked = true; }, { passive: true, capture: true }));
    const timer = setInterval(async () => {
      if (!worked || document.visibilityState !== "visible") return;
      worked = false;
      let response = null;
      let data = null;
      try {
        response = await fetch(holdUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": root.dataset.csrf },
        });
        data = await response.json().catch(() => null);
      } catch (err) {
        return; // offline for now: the next beat tries again
      }
      if (response.ok && data && typeof data.held === "boolean") return;
      if (data && data.error && FINAL.includes(data.error.type)) {
        clearInterval(timer);
        lost = true;
        stale = true; // its saves would be refused: stop sending them
        setStatus("Not reserved for you", "error");
        showAlert(data.error.message);
      } else if (response.redirected || !data) {
        // The login page, or a refusal that is not ours (a CSRF check): the session is what went.
        clearInterval(timer);
        showAlert("The server did not take the editor's sign of life (has your session ended?). Reload the page to continue.", { reload: true });
      } // anything else (the server busy, a 5xx): the next beat tries again
    }, Number(root.dataset.holdSeconds) * 1000);
  }

  function showDone(done, total) {
    document.getElementById("done-count").textContent = done;
    const bar = document.getElementById("done-bar");
    bar.style.width = (total ? (100 * done) / total : 0) + "%";
    bar.parentElement.setAttribute("aria-valuenow", done);
  }

  function showProgress(data) {
    showDone(data.progress.done, data.progress.total);
    const form = document.getElementById("submit-form");
    if (form) form.hidden = !data.all_done;
    const waits = document.getElementById("submit-waits");
    if (waits) {
      waits.textContent = data.submit_waits || "";
      waits.hidden = data.all_done || !data.submit_waits;
    }
    const rejected = data.review_state === "rejected";
    const here = document.querySelector(".editor-strip .current");
    if (here) {
      here.className = "state-" + (rejected ? "rejected" : data.state) + " current";
      const badge = here.querySelector(".rework-badge");
      if (badge && !rejected) badge.remove();
    }
    showRework(rejected, data.progress.rework);
  }

  // A change to an image sent back by a review reworks it: no longer awaiting rework.
  function showRework(rejected, remaining) {
    if (rejected) return;
    const section = document.getElementById("sent-back");
    if (section) {
      const title = document.getElementById("sent-back-title");
      title.textContent = title.dataset.fixedTitle;
      section.querySelectorAll("[data-rework-only]").forEach((node) => node.remove());
    }
    const count = document.getElementById("rework-count");
    if (count) count.textContent = remaining;
    const item = document.querySelector("[data-current-rework]");
    if (item) item.remove();
    const list = document.getElementById("rework");
    if (list && !remaining) list.hidden = true;
  }

  function unsaved() {
    return inFlight || pending;
  }

  async function leave(url) {
    const ok = await flush();
    if (!ok && !window.confirm("The last change is not saved. Leave this image anyway?")) return;
    window.removeEventListener("beforeunload", warn);
    window.location.assign(url);
  }

  function go(direction) {
    const url = root.dataset[direction + "Url"];
    const queueNext = document.getElementById("queue-next-form");
    if (!url && direction === "next" && queueNext) {
      queueNext.requestSubmit(); // from the label queue: the next image it gives
      return;
    }
    if (!url) {
      toast(direction === "next" ? "This is the last image of the batch." : "This is the first image of the batch.");
      return;
    }
    leave(url);
  }

  function warn(evt) {
    if (lost || !unsaved()) return;
    evt.preventDefault();
    evt.returnValue = "";
  }
  window.addEventListener("beforeunload", warn);

  // Submitting the batch, or saying a sent-back image needs no change: save the last change first.
  ["submit-form", "checked-form", "queue-next-form"].forEach((id) => {
    const form = document.getElementById(id);
    if (!form) return;
    form.addEventListener("submit", async (evt) => {
      if (lost || !unsaved()) {
        // Lost to someone else, nothing here can be saved: "Next image" goes on all the same.
        window.removeEventListener("beforeunload", warn);
        return;
      }
      evt.preventDefault();
      // The saved change may have reworked the image already: then there is nothing to confirm.
      if ((await flush()) && document.body.contains(form)) {
        window.removeEventListener("beforeunload", warn);
        form.submit();
      }
    });
  });

  function toast(message) {
    window.Batchboard.toast(message, "info", 4000);
  }

  // --- start -------------------------------------------------------------------------------

  showDone(Number(document.getElementById("done-count").textContent), Number(document.getElementById("done-bar").dataset.total));
  fit();
  viewport.focus({ preventScroll: true });
  root.dataset.ready = "true"; // every listener is in place: what is done now reaches the editor
})();
