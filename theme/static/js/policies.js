/* Filters the policy list by year, level and issuer through data attributes. Without JavaScript the
   filter form stays hidden and the full list is shown. */
(function () {
  "use strict";
  var form = document.getElementById("policy-filters");
  var list = document.getElementById("policy-list");
  var count = document.getElementById("policy-count");
  if (!form || !list) { return; }
  form.hidden = false;
  var selects = form.querySelectorAll("select[data-filter]");
  function update() {
    var shown = 0;
    list.querySelectorAll("li").forEach(function (item) {
      var ok = true;
      selects.forEach(function (s) {
        if (s.value && item.getAttribute("data-" + s.getAttribute("data-filter")) !== s.value) { ok = false; }
      });
      item.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = "共 " + shown + " 件";
  }
  selects.forEach(function (s) { s.addEventListener("change", update); });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); });
}());
