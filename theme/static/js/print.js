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
  // The data date of the live release (the page itself may have been rendered by an earlier publish).
  var script = document.currentScript;
  var root = script ? script.src.replace(/\/theme\/js\/print\.js.*$/, "") : "";
  if (window.fetch && document.querySelector("[data-as-of]")) {
    fetch(root + "/data-as-of.json", {cache: "no-cache"}).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        var parts = data && /^(\d{4})-(\d{2})-(\d{2})$/.exec(data.data_as_of || "");
        if (!parts) { return; }
        var text = parts[1] + "年" + Number(parts[2]) + "月" + Number(parts[3]) + "日";
        document.querySelectorAll("[data-as-of]").forEach(function (el) {
          el.lastElementChild.textContent = text;
          el.hidden = false;
        });
      }).catch(function () { /* no date rather than a wrong one */ });
  }
}());
