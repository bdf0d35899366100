/* Filters the policy list by year, level and issuer through data attributes. The chosen filters are kept in
   the address (?year=2024&issuer=…), so a filtered list can be shared and survives reload and back/forward.
   A jointly issued document lists each issuer in data-issuer, separated by "|"; it matches any of them.
   Without JavaScript the filter form stays hidden and the full list is shown. */
(function () {
  "use strict";
  var form = document.getElementById("policy-filters");
  var list = document.getElementById("policy-list");
  var count = document.getElementById("policy-count");
  if (!form || !list) { return; }
  form.hidden = false;
  var selects = form.querySelectorAll("select[data-filter]");

  function matches(item, name, wanted) {
    var value = item.getAttribute("data-" + name) || "";
    return name === "issuer" ? value.split("|").indexOf(wanted) >= 0 : value === wanted;
  }

  function update() {
    var shown = 0;
    list.querySelectorAll("li").forEach(function (item) {
      var ok = true;
      selects.forEach(function (s) {
        if (s.value && !matches(item, s.getAttribute("data-filter"), s.value)) { ok = false; }
      });
      item.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = "共 " + shown + " 件";
  }

  function toUrl() {
    var params = new URLSearchParams();
    selects.forEach(function (s) { if (s.value) { params.set(s.getAttribute("data-filter"), s.value); } });
    var query = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  function fromUrl() {
    var params = new URLSearchParams(window.location.search);
    selects.forEach(function (s) {
      var wanted = params.get(s.getAttribute("data-filter")) || "";
      var known = Array.prototype.some.call(s.options, function (o) { return o.value === wanted; });
      s.value = known ? wanted : "";
    });
    update();
  }

  selects.forEach(function (s) { s.addEventListener("change", function () { update(); toUrl(); }); });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); });
  window.addEventListener("popstate", fromUrl);
  fromUrl();
}());
