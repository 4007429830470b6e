// Toasts: short messages in the page's aria-live region (#toasts), for every screen's script
// (Batchboard.toast) and for the server's "toast" events (HX-Trigger), on every page.
(function () {
  "use strict";

  function toast(message, level, ms) {
    const region = document.getElementById("toasts");
    if (!region || !message) return;
    const item = document.createElement("div");
    item.className = "toast toast-" + (level || "info");
    item.textContent = message;
    region.appendChild(item);
    setTimeout(() => item.remove(), ms || window.Batchboard.toastMs);
  }

  // How long a toast stays; a screen may set its own (the review screen's are shorter).
  window.Batchboard = Object.assign({ toastMs: 6000 }, window.Batchboard || {}, { toast: toast });

  document.addEventListener("DOMContentLoaded", () => {
    document.body.addEventListener("toast", (evt) => toast(evt.detail.message, evt.detail.level));
  });
})();
