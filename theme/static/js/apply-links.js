/* 提出异议 / 申请信用修复 links under a natural person's search result (persons have no indexable entry page
   to carry them). Called by search.js for each person hit; builds DOM only, no API data in markup. */
(function () {
  "use strict";
  var REPAIRABLE = { black: true, watch: true };
  window.PortalApplyLinks = function (hit) {
    var ul = document.createElement("ul");
    ul.className = "action-links apply-links";
    function link(kind, label) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.textContent = label;
      a.setAttribute("href", "/apply/?entry=" + encodeURIComponent(String(hit.id)) + "&kind=" + kind);
      li.appendChild(a);
      ul.appendChild(li);
    }
    link("objection", "提出异议");
    if (REPAIRABLE[hit.list_kind] || hit.list_code === "XZCF") { link("repair", "申请信用修复"); }
    return ul;
  };
}());
