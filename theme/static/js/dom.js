/* Small helpers shared by the pages whose script renders API answers (person entries, credit report
   verification, online applications): text-only element building (never innerHTML: the answers are data)
   and Chinese dates (2024年3月5日). */
(function () {
  "use strict";
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function zhDate(iso) {
    if (!iso) { return ""; }
    var p = String(iso).slice(0, 10).split("-");
    return Number(p[0]) + "年" + Number(p[1]) + "月" + Number(p[2]) + "日";
  }

  window.PortalDom = {el: el, zhDate: zhDate};
}());
