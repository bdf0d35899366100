/* Reading preferences: font size and elder-friendly mode (适老化), kept in localStorage.
   Loaded in <head> so the saved mode applies before the first paint; without JavaScript the page
   simply shows the default mode and the controls stay hidden. */
(function () {
  "use strict";
  var KEY = "portal-prefs";
  var root = document.documentElement;
  function load() {
    try { return JSON.parse(window.localStorage.getItem(KEY)) || {}; } catch (e) { return {}; }
  }
  function save(prefs) {
    try { window.localStorage.setItem(KEY, JSON.stringify(prefs)); } catch (e) { /* private mode */ }
  }
  function apply(prefs) {
    root.setAttribute("data-font", prefs.font || "normal");
    if (prefs.elder) { root.setAttribute("data-elder", "on"); } else { root.removeAttribute("data-elder"); }
  }
  var prefs = load();
  apply(prefs);
  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("prefs");
    if (!panel) { return; }
    panel.hidden = false;
    var fontButtons = panel.querySelectorAll("[data-font]");
    var elderButton = panel.querySelector("[data-elder]");
    function sync() {
      fontButtons.forEach(function (b) {
        b.setAttribute("aria-pressed", String(b.getAttribute("data-font") === (prefs.font || "normal")));
      });
      elderButton.setAttribute("aria-pressed", String(Boolean(prefs.elder)));
    }
    fontButtons.forEach(function (b) {
      b.addEventListener("click", function () {
        prefs.font = b.getAttribute("data-font"); apply(prefs); save(prefs); sync();
      });
    });
    elderButton.addEventListener("click", function () {
      prefs.elder = !prefs.elder; apply(prefs); save(prefs); sync();
    });
    sync();
  });
}());
