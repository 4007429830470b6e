/* The catalog grid: selection (click, shift-click ranges, page, all matching) and the "Add batch" dialog.
 *
 * The page works without this file: checkboxes post the ticked ids, and
 * "Add batch…" opens a page of its own. This adds ranges, "all matching"
 * (which posts the filter, never a list of ids) and the dialog with live counts.
 */
(function () {
  "use strict";

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function init() {
    const form = document.getElementById("selection");
    const status = document.getElementById("selection-status");
    if (!form || !status) return; // no selection tools for roles that can neither add batches nor tag
    const scope = document.getElementById("scope");
    const boxes = () => Array.from(form.querySelectorAll("input.pick"));
    let last = null;

    function matching() {
      const count = document.getElementById("match-count");
      if (!count || count.dataset.count === undefined) return "";
      const n = Number(count.dataset.count).toLocaleString("en-US");
      return count.dataset.exact === "false" ? `${n}+` : n;
    }

    function update() {
      const all = boxes();
      const picked = all.filter((box) => box.checked).length;
      all.forEach((box) => box.closest("li").classList.toggle("selected", box.checked));
      if (scope.value === "filter") {
        const n = matching();
        status.textContent = n ? `All ${n} matching images selected` : "All matching images selected";
      } else {
        status.textContent = picked ? `${picked} selected on this page` : "No image selected";
      }
      form.classList.toggle("has-selection", scope.value === "filter" || picked > 0);
    }

    // A click on a thumbnail's label reaches its checkbox as a click too;
    // shift extends the selection from the last box clicked.
    form.addEventListener("click", (event) => {
      const box = event.target.closest("input.pick");
      if (!box) return;
      const all = boxes();
      const index = all.indexOf(box);
      if (event.shiftKey && last !== null && last !== index) {
        const [from, to] = [Math.min(last, index), Math.max(last, index)];
        for (let i = from; i <= to; i++) all[i].checked = box.checked;
      }
      last = index;
      scope.value = "ids";
      update();
    });

    form.querySelectorAll("[data-select]").forEach((button) => {
      button.addEventListener("click", () => {
        const what = button.dataset.select;
        boxes().forEach((box) => {
          box.checked = what !== "none";
        });
        scope.value = what === "all" ? "filter" : "ids";
        last = null;
        update();
      });
    });

    document.body.addEventListener("htmx:afterSwap", update);

    const dialog = document.getElementById("batch-dialog");
    const opener = form.querySelector("[data-opens='batch-dialog']");
    if (dialog && opener && typeof dialog.showModal === "function") {
      const preview = document.getElementById("batch-preview");
      const refresh = debounce(() => window.htmx && window.htmx.trigger(preview, "batch-preview"), 250);
      const sampling = dialog.querySelector(".sampling");
      sampling.classList.add("live");
      const showMode = () => {
        const checked = dialog.querySelector("input[name='sample']:checked");
        sampling.dataset.mode = checked ? checked.value : "";
      };
      opener.addEventListener("click", (event) => {
        event.preventDefault();
        preview.innerHTML = "";
        showMode();
        dialog.showModal();
        dialog.querySelector("#b-name").focus();
        refresh();
      });
      dialog.addEventListener("input", refresh);
      dialog.addEventListener("change", () => {
        showMode();
        refresh();
      });
      // Enter in a field counts again instead of submitting the grid's form.
      dialog.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && event.target.matches("input")) {
          event.preventDefault();
          refresh();
        }
      });
      dialog.querySelectorAll("[data-closes]").forEach((button) => {
        button.addEventListener("click", () => dialog.close());
      });
    }

    update();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
