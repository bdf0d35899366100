/* Credit search over the portal API. Results are built with DOM methods and textContent only; the
   API's highlights (HTML-escaped text with <mark> added) are parsed by splitting on the two literal
   tags and rebuilt as text nodes and <mark> elements, so no API data ever reaches innerHTML. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="portal-api"]');
  var API = meta ? meta.getAttribute("content").replace(/\/$/, "") : "/api/v1";
  var PER_PAGE = 20;
  var MAX_WINDOW = 500; // search_api.settings.MAX_RESULT_WINDOW
  var MAX_PERSON_WINDOW = 100; // search_api.settings.MAX_PERSON_RESULT_WINDOW
  var KIND_LABELS = { red: "红名单", black: "黑名单", watch: "重点关注名单", decision: "双公示" };
  var KIND_ICONS = { red: "✓", black: "✕", watch: "!", decision: "§" };
  var form = document.getElementById("search-form");
  var statusBox = document.getElementById("search-status");
  var results = document.getElementById("search-results");
  var pager = document.getElementById("search-pager");
  var pageLabel = document.getElementById("search-page-label");
  var FIELDS = ["q", "list_kind", "list_code", "subject_type", "region"];
  var state = { page: 1, total: 0 };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /* The API escapes &, <, >, " and ' and adds only <mark>…</mark>; undo exactly that escaping. */
  function unescapeText(s) {
    return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"")
      .replace(/&#x27;|&#39;/g, "'").replace(/&amp;/g, "&");
  }

  function highlighted(html, fallback) {
    var frag = document.createDocumentFragment();
    if (typeof html !== "string" || html === "") { frag.appendChild(document.createTextNode(fallback || "")); return frag; }
    var parts = html.split(/(<mark>|<\/mark>)/);
    var inMark = false;
    parts.forEach(function (part) {
      if (part === "<mark>") { inMark = true; return; }
      if (part === "</mark>") { inMark = false; return; }
      if (!part) { return; }
      var text = document.createTextNode(unescapeText(part));
      if (inMark) { var m = el("mark"); m.appendChild(text); frag.appendChild(m); } else { frag.appendChild(text); }
    });
    return frag;
  }

  function zhDate(iso) {
    if (!iso) { return ""; }
    var p = String(iso).slice(0, 10).split("-");
    return Number(p[0]) + "年" + Number(p[1]) + "月" + Number(p[2]) + "日";
  }

  function timeEl(iso) {
    var t = el("time", null, zhDate(iso));
    t.setAttribute("datetime", String(iso).slice(0, 10));
    return t;
  }

  function safeEntryUrl(hit) {
    /* Only follow same-site entry paths the contract defines. */
    var url = String(hit.url || "");
    return /^\/entries\/[0-9a-f]{16}\/$/.test(url) ? url : "/entries/" + encodeURIComponent(String(hit.id)) + "/";
  }

  function renderHit(hit) {
    var li = el("li", "result");
    var head = el("div", "result-head");
    var badge = el("span", "badge badge-" + (KIND_LABELS[hit.list_kind] ? hit.list_kind : "decision"));
    var icon = el("span", null, KIND_ICONS[hit.list_kind] || "•");
    icon.setAttribute("aria-hidden", "true");
    badge.appendChild(icon);
    badge.appendChild(document.createTextNode(" " + (KIND_LABELS[hit.list_kind] || hit.list_kind || "")));
    head.appendChild(badge);
    head.appendChild(el("span", "status", hit.status));
    li.appendChild(head);
    var h = el("h2", "result-title");
    var a = el("a");
    a.setAttribute("href", safeEntryUrl(hit));
    a.appendChild(highlighted(hit.highlights && hit.highlights.subject_name, hit.subject_name));
    h.appendChild(a);
    li.appendChild(h);
    var dl = el("dl", "result-meta");
    function row(label, value) {
      if (value === null || value === undefined || value === "") { return; }
      var d = el("div");
      d.appendChild(el("dt", null, label));
      var dd = el("dd");
      if (value instanceof Node) { dd.appendChild(value); } else { dd.textContent = String(value); }
      d.appendChild(dd);
      dl.appendChild(d);
    }
    row("名单", hit.list_name);
    row(hit.is_person ? "证件号码" : "统一社会信用代码", hit.is_person ? hit.id_number : (hit.uscc || hit.id_number));
    row("认定部门", hit.authority);
    row("认定日期", hit.decision_date ? timeEl(hit.decision_date) : "");
    row("所属区域", hit.region);
    li.appendChild(dl);
    if (hit.is_person && window.PortalApplyLinks) { li.appendChild(window.PortalApplyLinks(hit)); }
    return li;
  }

  function showStatus(text, kind) {
    statusBox.textContent = text;
    statusBox.className = "search-status" + (kind ? " notice notice-" + kind : "");
  }

  function params() {
    var p = new URLSearchParams();
    FIELDS.forEach(function (name) {
      var input = form.elements[name];
      if (input && input.value.trim()) { p.set(name, input.value.trim()); }
    });
    return p;
  }

  function run(page, push) {
    var p = params();
    var q = p.get("q") || "";
    if (q.length < 2) { showStatus("请输入至少2个字的查询内容。", "warn"); return; }
    state.page = page;
    if (push) {
      var shown = new URLSearchParams(p);
      if (page > 1) { shown.set("page", String(page)); }
      window.history.pushState(null, "", "?" + shown.toString());
    }
    p.set("page", String(page));
    p.set("facets", "false"); // this page shows no facet counts: spare the server computing them
    p.set("per_page", String(PER_PAGE));
    showStatus("正在查询…");
    results.replaceChildren();
    pager.hidden = true;
    fetch(API + "/search?" + p.toString(), { headers: { Accept: "application/json" } })
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (body) { return { ok: resp.ok, status: resp.status, body: body }; });
      })
      .then(function (r) {
        if (!r.ok) {
          var msg = r.body && r.body.error && r.body.error.message ? r.body.error.message : "查询失败（" + r.status + "），请稍后再试。";
          showStatus(msg, "warn");
          return;
        }
        render(r.body);
      })
      .catch(function () {
        showStatus("查询服务暂时无法连接，请稍后再试。您也可以浏览各名单公示页面，或拨打信用办电话咨询。", "error");
      });
  }

  function render(body) {
    var hits = body.hits || [];
    var total = body.total ? body.total.value : hits.length;
    var more = body.total && body.total.relation === "gte" ? "以上" : "";
    state.total = total;
    if (!hits.length) {
      showStatus("没有找到相关信息。未列入名单不代表信用状况，请核对名称或证件号码。");
      return;
    }
    showStatus("找到 " + total + " 条" + more + "结果" + (body.data_as_of ? "（数据截至" + zhDate(body.data_as_of) + "）" : "") + "。");
    hits.forEach(function (hit) { results.appendChild(renderHit(hit)); });
    var perPage = body.per_page || PER_PAGE;
    // The API answers only the first MAX_WINDOW results (fewer for natural persons): never offer a page
    // beyond them, it would end in an error.
    var window_ = params().get("subject_type") === "自然人" ? MAX_PERSON_WINDOW : MAX_WINDOW;
    var pages = Math.max(1, Math.min(Math.ceil(total / perPage), Math.floor(window_ / perPage)));
    pager.hidden = pages <= 1;
    pageLabel.textContent = "第 " + state.page + " 页，共 " + pages + " 页";
    pager.querySelector('[data-page="prev"]').disabled = state.page <= 1;
    pager.querySelector('[data-page="next"]').disabled = state.page >= pages;
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); run(1, true); });
  pager.addEventListener("click", function (ev) {
    var dir = ev.target.getAttribute && ev.target.getAttribute("data-page");
    if (!dir) { return; }
    run(dir === "next" ? state.page + 1 : state.page - 1, true);
    statusBox.scrollIntoView({ block: "start" });
  });

  function fromUrl() {
    var u = new URLSearchParams(window.location.search);
    var details = form.querySelector("details");
    if (details && ["list_kind", "list_code", "subject_type", "region"].some(function (n) { return u.get(n); })) {
      details.open = true;  /* a filtered search shows its filters */
    }
    FIELDS.forEach(function (name) { if (u.has(name) && form.elements[name]) { form.elements[name].value = u.get(name); } });
    if ((u.get("q") || "").length >= 2) { run(Number(u.get("page")) || 1, false); }
  }
  window.addEventListener("popstate", fromUrl);
  fromUrl();
}());
