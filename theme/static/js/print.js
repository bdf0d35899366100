/* Shows a "print this page" button where JavaScript can run it, and puts the page's full address and the
   print date on printouts (the .print-facts line that only print.css shows). */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () { window.print(); });
  });
  function stamp() {
    var now = new Date();
    var date = now.getFullYear() + "年" + (now.getMonth() + 1) + "月" + now.getDate() + "日";
    document.querySelectorAll("[data-print-url]").forEach(function (el) {
      el.textContent = window.location.origin + window.location.pathname;
    });
    document.querySelectorAll("[data-print-date]").forEach(function (el) {
      el.hidden = false;
      el.lastElementChild.textContent = date;
    });
  }
  stamp();
  window.addEventListener("beforeprint", stamp);
}());
