/* Shared by the online application pages (/apply/, /apply-status/): the service's address, DOM helpers,
   dates, and the error envelope {"error": {"code", "message"}} of the applications service. API data is
   only ever put into the page with textContent. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="portal-apply"]');
  var API = meta ? meta.getAttribute("content").replace(/\/$/, "") : "/apply/v1";

  var el = window.PortalDom.el, zhDate = window.PortalDom.zhDate;  // theme/js/dom.js

  /* fetch → {ok, status, body}; a network failure becomes status 0 with a Chinese message. */
  function call(path, options) {
    return fetch(API + path, options || {}).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        return { ok: resp.ok, status: resp.status, body: body };
      });
    }, function () {
      return { ok: false, status: 0, body: { error: { code: "network", message: "网上申请服务暂时无法连接，请稍后再试，或到政务服务中心信用窗口办理。" } } };
    });
  }

  function errorText(r) {
    if (r.body && r.body.error && r.body.error.message) { return r.body.error.message; }
    if (r.status === 413) { return "上传内容过大：每个附件不超过5 MB，最多5个。"; }
    return "办理失败（" + r.status + "），请稍后再试。";
  }

  function say(box, text, kind) {
    box.textContent = text || "";
    box.className = "search-status" + (kind ? " notice notice-" + kind : "");
  }

  window.PortalApply = { API: API, el: el, zhDate: zhDate, call: call, errorText: errorText, say: say };
}());
