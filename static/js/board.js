// The board: drag-and-drop moves, dialogs, toasts and live updates.
// Every action here also works as a plain form post without JavaScript.
(function () {
  "use strict";

  let pending = null; // {card, from, index} while a dropped card waits for the server

  function toast(message, level) {
    window.Batchboard.toast(message, level);
  }

  function revert() {
    if (!pending) return;
    const { card, from, index } = pending;
    pending = null;
    const before = from.children[index] || null;
    from.insertBefore(card, before);
    card.classList.remove("pending");
    syncPlaceholders();
  }

  function syncPlaceholders() {
    document.querySelectorAll("#board .cards").forEach((list) => {
      const hasCards = list.querySelector(".batch-card");
      list.querySelectorAll("[data-placeholder]").forEach((p) => (p.hidden = !!hasCards));
    });
  }

  function post(card, to, from) {
    card.classList.add("pending");
    htmx.ajax("POST", card.dataset.moveUrl, { source: card, values: { to: to, from: from }, swap: "none" });
  }

  function refreshBoard() {
    const board = document.getElementById("board");
    if (board) htmx.ajax("GET", board.dataset.boardUrl, { target: "#board", swap: "outerHTML" });
  }

  function closeMenus() {
    document.querySelectorAll("details.card-menu[open]").forEach((d) => d.removeAttribute("open"));
  }

  function reason(xhr) {
    const type = xhr.getResponseHeader("Content-Type") || "";
    if (type.startsWith("text/plain") && xhr.responseText) return xhr.responseText;
    if (xhr.status === 404) return "This batch no longer exists: someone deleted it.";
    if (xhr.status === 403) return "You do not have permission to do that.";
    return "That did not work (" + xhr.status + "); reload the page and try again.";
  }

  function initSortable() {
    const board = document.getElementById("board");
    if (!board || board.dataset.draggable !== "true" || typeof Sortable === "undefined") return;
    board.querySelectorAll(".cards").forEach((list) => {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "on";
      Sortable.create(list, {
        group: "board",
        draggable: ".batch-card",
        filter: ".locked, .card-menu, a, button, input",
        preventOnFilter: false,
        animation: 120,
        ghostClass: "drag-ghost",
        onMove(evt) {
          const allowed = (evt.dragged.dataset.moves || "").split(" ");
          return allowed.includes(evt.to.dataset.status);
        },
        onEnd(evt) {
          if (evt.from === evt.to) {
            // Order within a column follows priority and age, not position.
            evt.from.insertBefore(evt.item, evt.from.children[evt.oldIndex] || null);
            return;
          }
          pending = { card: evt.item, from: evt.from, index: evt.oldIndex };
          syncPlaceholders();
          post(evt.item, evt.to.dataset.status, evt.from.dataset.status);
        },
      });
    });
  }

  // --- dialogs -------------------------------------------------------------

  function openDialogs(root) {
    root.querySelectorAll("dialog[data-autoshow]").forEach((dialog) => {
      if (!dialog.open) dialog.showModal();
      dialog.addEventListener("close", () => {
        if (dialog.returnValue !== "done") revert();
        dialog.remove();
      });
    });
  }

  document.addEventListener("click", (evt) => {
    const closer = evt.target.closest("[data-close]");
    if (closer) {
      const dialog = closer.closest("dialog");
      if (dialog && dialog.hasAttribute("data-autoshow")) {
        evt.preventDefault();
        dialog.close("cancel");
      } else if (dialog) {
        window.history.back();
      }
    }
  });

  document.addEventListener("keydown", (evt) => {
    if (evt.key === "Escape") closeMenus();
  });
  document.addEventListener("click", (evt) => {
    if (!evt.target.closest("details.card-menu")) closeMenus();
  });

  // Picking images in the assign dialog: click, shift-click ranges, all, none.
  let lastPicked = null;
  document.addEventListener("click", (evt) => {
    const tool = evt.target.closest("[data-pick]");
    const form = evt.target.closest("form");
    if (tool && form) {
      const on = tool.dataset.pick === "all";
      form.querySelectorAll("[data-pick-grid] input").forEach((box) => (box.checked = on));
      updatePicked(form, true);
      return;
    }
    const box = evt.target.closest("[data-pick-grid] input");
    if (!box || !form) return;
    const boxes = Array.from(form.querySelectorAll("[data-pick-grid] input"));
    if (evt.shiftKey && lastPicked !== null) {
      const [a, b] = [lastPicked, boxes.indexOf(box)].sort((x, y) => x - y);
      boxes.slice(a, b + 1).forEach((other) => (other.checked = box.checked));
    }
    lastPicked = boxes.indexOf(box);
    updatePicked(form, true);
  });

  function updatePicked(form, choose) {
    const count = form.querySelectorAll("[data-pick-grid] input:checked").length;
    const label = form.querySelector("[data-picked-count]");
    if (label) label.textContent = "(" + count + " picked)";
    const chosen = form.querySelector('input[name="selection"][value="chosen"]');
    if (choose && chosen) chosen.checked = true;
  }

  // --- responses -----------------------------------------------------------

  // After settling, not swapping: htmx processes the new content (the dialog's hx-post form) while
  // it settles, and a dialog shown before that would post as a plain form if submitted at once.
  document.addEventListener("htmx:afterSettle", (evt) => {
    const target = evt.detail.target || evt.target;
    if (target && target.id === "dialog-slot") openDialogs(target);
  });

  document.addEventListener("htmx:afterRequest", (evt) => {
    const xhr = evt.detail.xhr;
    if (!xhr || !evt.detail.successful) return;
    if ((xhr.getResponseHeader("HX-Retarget") || "") === "#dialog-slot") return;
    const dialog = evt.detail.elt.closest && evt.detail.elt.closest("dialog");
    if (xhr.responseURL && /\/(move|priority)$/.test(xhr.responseURL) || dialog) {
      pending = null;
      if (dialog) dialog.close("done");
      closeMenus();
    }
  });

  document.addEventListener("htmx:responseError", (evt) => {
    const xhr = evt.detail.xhr;
    const wasMove = !!pending || !!evt.detail.elt.closest(".card-menu, dialog");
    revert();
    closeMenus();
    toast(reason(xhr), "error");
    // Show the truth: the card may have moved or gone while we looked.
    if (wasMove && (xhr.status === 409 || xhr.status === 404)) refreshBoard();
  });

  document.addEventListener("htmx:sendError", () => {
    revert();
    toast("The server could not be reached. Check your connection and try again.", "error");
  });

  document.addEventListener("htmx:afterSettle", syncPlaceholders);


  document.addEventListener("htmx:load", (evt) => {
    if (evt.detail.elt.id === "board" || evt.detail.elt === document.body) initSortable();
  });

  // --- live updates ----------------------------------------------------------

  function busy() {
    return pending || document.querySelector("dialog[open], details.card-menu[open], .sortable-chosen");
  }

  async function poll() {
    const board = document.getElementById("board");
    if (!board || document.visibilityState !== "visible" || busy()) return;
    const current = board.dataset.version;
    try {
      const response = await fetch(board.dataset.versionUrl, {
        headers: { "If-None-Match": '"' + current + '"' },
        cache: "no-store",
        credentials: "same-origin",
      });
      const etag = (response.headers.get("ETag") || "").replaceAll('"', "");
      if (response.status !== 304 && etag && etag !== current && !busy()) {
        htmx.ajax("GET", board.dataset.boardUrl, { target: "#board", swap: "outerHTML" });
      }
    } catch (_) {
      // Offline for a moment: try again on the next tick.
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    initSortable();
    openDialogs(document);
    setInterval(poll, 5000);
  });
})();
