/* Pagefind's search UI over policies and notices (the index is built after the Pelican build). */
(function () {
  "use strict";
  if (typeof PagefindUI === "undefined") { return; }
  new PagefindUI({ element: "#pagefind-search", showSubResults: true, showImages: false,
    translations: { placeholder: "输入关键词检索政策法规和曝光台", zero_results: "没有找到与 [SEARCH_TERM] 相关的内容" } });
}());
