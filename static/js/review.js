// Review keys: A approves, R rejects, ← and → step through the images.
(function () {
  "use strict";
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
    const key = evt.key.toLowerCase();
    const target = document.querySelector('#stage [data-key="' + key + '"]');
    if (!target) return;
    evt.preventDefault();
    target.click();
  });
})();
