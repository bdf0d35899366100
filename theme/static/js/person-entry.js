/* The entry of a natural person, asked from the API (person rate limit) by the id in the address.
   The page itself holds no personal data (theme/templates/person_entry.html). Everything from the API is
   inserted with textContent only. */
(function () {
  "use strict";
  var root = document.getElementById("person-entry");
  if (!root) { return; }
  var meta = document.querySelector('meta[name="portal-api"]');
  var API = meta ? meta.getAttribute("content").replace(/\/$/, "") : "/api/v1";
  var SITE = (root.getAttribute("data-site-url") || "").replace(/\/$/, "");
  var KIND_LABELS = { red: "红名单", black: "黑名单", watch: "重点关注名单", decision: "双公示" };
  var REASONS = { "期满": "公布期限届满", "信用修复": "信用修复", "撤销": "认定被撤销", "异议更正": "经异议核查更正",
    "移出": "依规移出" };
  var message = document.getElementById("person-entry-message");
  var heading = document.getElementById("person-entry-heading");

  var el = window.PortalDom.el, zhDate = window.PortalDom.zhDate;  // theme/js/dom.js

  function setTime(node, iso) {
    node.textContent = zhDate(iso);
    node.setAttribute("datetime", String(iso).slice(0, 10));
  }

  function timeEl(iso) { var t = el("time"); setTime(t, iso); return t; }

  function finish(state, title, text) {
    root.setAttribute("data-state", state);
    heading.textContent = title;
    message.textContent = text;
  }

  function field(list, label, value) {
    if (value === undefined || value === null || value === "") { return; }
    var row = el("div");
    row.appendChild(el("dt", null, label));
    var dd = el("dd");
    if (value instanceof Node) { dd.appendChild(value); } else { dd.textContent = String(value); }
    row.appendChild(dd);
    list.appendChild(row);
  }

  function show(entry) {
    var kind = KIND_LABELS[entry.list_kind] ? entry.list_kind : "decision";
    var badge = document.getElementById("person-entry-kind");
    badge.className = "badge badge-" + kind;
    badge.textContent = KIND_LABELS[kind];
    var state = document.getElementById("person-entry-state");
    state.textContent = entry.status || "";
    state.className = "status status-" + (entry.status === "公示中" ? "notice" : (entry.status === "异议处理中" ? "objection" : "published"));
    document.getElementById("person-entry-name").textContent = entry.subject_name || "";
    var code = String(entry.list_code || "").toLowerCase();
    var listLink = document.getElementById("person-entry-list");
    listLink.textContent = entry.list_name || "";
    if (/^[a-z0-9-]+$/.test(code)) {
      listLink.setAttribute("href", SITE + "/lists/" + code + "/");
      document.getElementById("person-entry-measures").setAttribute("href", SITE + "/lists/" + code + "/#measures-title");
    }
    if (entry.status === "公示中" && entry.notice_until) {
      document.getElementById("person-entry-notice-until").appendChild(timeEl(entry.notice_until));
      document.getElementById("person-entry-notice").hidden = false;
    } else if (entry.status === "异议处理中") {
      document.getElementById("person-entry-objection").hidden = false;
    }
    var list = document.getElementById("person-entry-fields");
    field(list, "主体类别", entry.subject_type);
    field(list, entry.id_type || "证件号码", entry.id_number);
    field(list, "认定部门", entry.authority || "—");
    field(list, "认定文书号", entry.decision_no || "—");
    if (entry.decision_date) { field(list, "认定日期", timeEl(entry.decision_date)); }
    if (entry.notice_until) { field(list, "公示截止日期", timeEl(entry.notice_until)); }
    if (entry.publish_from) {
      var period = document.createDocumentFragment();
      period.appendChild(timeEl(entry.publish_from));
      period.appendChild(document.createTextNode(" 至 "));
      if (entry.publish_until) { period.appendChild(timeEl(entry.publish_until)); } else { period.appendChild(document.createTextNode("移出之日")); }
      var span = el("span"); span.appendChild(period);
      field(list, "公布期限", span);
    }
    field(list, "所属区域", entry.region);
    field(list, "住所", entry.address);
    var details = entry.details || {};
    Object.keys(details).sort().forEach(function (key) { field(list, key, details[key]); });
    [["facts", "person-entry-facts"], ["basis", "person-entry-basis"]].forEach(function (pair) {
      if (entry[pair[0]]) {
        document.getElementById(pair[1]).textContent = entry[pair[0]];
        document.getElementById(pair[1] + "-block").hidden = false;
      }
    });
    document.title = (entry.subject_name || "公示信息") + " · " + (entry.list_name || "") + " · " + document.title.split(" · ").pop();
    document.getElementById("person-entry-status").hidden = true;
    document.getElementById("person-entry-body").hidden = false;
    root.setAttribute("data-state", "ready");
  }

  function gone(tombstone) {
    var reason = tombstone && tombstone.reason ? tombstone.reason : "";
    var text = "本页原公示的一条" + (tombstone && tombstone.list_name ? tombstone.list_name : "") + "信息" +
      (tombstone && tombstone.withdrawn_on ? "已于" + zhDate(tombstone.withdrawn_on) : "已") + "停止公示" +
      (reason ? "（" + (REASONS[reason] || reason) + "）" : "") + "。依据相关规定，信息停止公示后不再提供主体名称、证件号码等内容。";
    finish("gone", "该信息已不再公示", text);
  }

  var match = /\/entries\/([0-9a-f]{16})\/?$/.exec(window.location.pathname);
  if (!match) { finish("error", "未找到该信息", "网址中没有有效的条目编号。"); return; }
  fetch(API + "/entries/" + match[1], { headers: { Accept: "application/json" }, credentials: "omit" })
    .then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 200) { show(body); return; }
        if (response.status === 410) { gone(body.tombstone); return; }
        if (response.status === 404) { finish("missing", "未找到该信息", "该信息不存在或已停止公示。"); return; }
        if (response.status === 429) {
          var wait = response.headers.get("Retry-After") || "60";
          finish("limited", "查询过于频繁", "为防止个人信息被批量收集，自然人信息的查询有频率限制。请在 " + wait + " 秒后刷新本页。");
          return;
        }
        finish("error", "暂时无法显示", "信用查询服务暂时不可用，请稍后刷新本页。");
      });
    })
    .catch(function () { finish("error", "暂时无法显示", "信用查询服务暂时不可用，请稍后刷新本页。"); });
}());
