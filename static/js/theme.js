// The colour scheme: light, dark, or the system's (prefers-color-scheme), remembered in localStorage.
// Loaded without defer in <head>, so <html data-theme> is set before the first paint (no flash).
(function () {
  "use strict";
  var KEY = "batchboard-theme";
  var CHOICES = ["light", "dark", "system"];

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return CHOICES.indexOf(value) >= 0 ? value : "system";
    } catch (e) {
      return "system"; // storage blocked: follow the system
    }
  }

  function apply(choice) {
    document.documentElement.setAttribute("data-theme", choice);
  }

  function remember(choice) {
    try {
      if (choice === "system") window.localStorage.removeItem(KEY);
      else window.localStorage.setItem(KEY, choice);
    } catch (e) {
      // not remembered, still applied to this page
    }
  }

  apply(stored());

  document.addEventListener("DOMContentLoaded", function () {
    var picker = document.getElementById("theme-picker");
    if (!picker) return;
    var select = picker.querySelector("select");
    select.value = stored();
    picker.hidden = false;
    select.addEventListener("change", function () {
      remember(select.value);
      apply(select.value);
    });
  });

  // Another tab changed the choice: follow it.
  window.addEventListener("storage", function (event) {
    if (event.key !== KEY) return;
    var choice = stored();
    apply(choice);
    var select = document.querySelector("#theme-picker select");
    if (select) select.value = choice;
  });
})();
