/* Credit search over the portal API. Results are built with DOM methods and textContent only; the
   API's highlights (HTML-escaped text with <mark> added) are parsed by splitting on the two literal
   tags and rebuilt as text nodes and <mark> elements, so no API data ever reaches innerHTML.

   A query shaped like a personal ID number (居民身份证 18 digits or 17 + X, legacy 15 digits, with spaces or
   full-width digits; 港澳居民来往内地通行证 H/M + 8 or 10 digits; 护照 E/G + 8 characters) is sent to
   POST /lookup in the request body: it never goes into the address bar, the history, a GET URL or a
   server log. Hits of one organisation are grouped under its subject page (一户一档). */
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
  var idQuery = window.PortalIdQuery;  /* id-query.js: which queries are ID numbers */
  var WHY_LABELS = { legal_rep: "法定代表人", authority: "认定部门", decision_no: "文号", facts: "事实" };
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

  function renderHit(hit, inGroup) {
    var li = el("li", inGroup ? "result-item" : "result");
    var head = el("div", "result-head");
    var badge = el("span", "badge badge-" + (KIND_LABELS[hit.list_kind] ? hit.list_kind : "decision"));
    var icon = el("span", null, KIND_ICONS[hit.list_kind] || "•");
    icon.setAttribute("aria-hidden", "true");
    badge.appendChild(icon);
    badge.appendChild(document.createTextNode(" " + (KIND_LABELS[hit.list_kind] || hit.list_kind || "")));
    head.appendChild(badge);
    head.appendChild(el("span", "status", hit.status));
    li.appendChild(head);
    var h = el(inGroup ? "h3" : "h2", "result-title");
    var a = el("a");
    a.setAttribute("href", safeEntryUrl(hit));
    if (inGroup) {
      a.textContent = hit.list_name || "公示信息";
    } else {
      a.appendChild(highlighted(hit.highlights && hit.highlights.subject_name, hit.subject_name));
    }
    h.appendChild(a);
    li.appendChild(h);
    var reason = why(hit);
    if (reason) { li.appendChild(reason); }
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
    if (!inGroup) {
      row("名单", hit.list_name);
      row(hit.is_person ? "证件号码" : "统一社会信用代码", hit.is_person ? hit.id_number : (hit.uscc || hit.id_number));
    }
    row("文号", hit.decision_no);
    row("认定部门", hit.authority);
    row("认定日期", hit.decision_date ? timeEl(hit.decision_date) : "");
    row("所属区域", hit.region);
    li.appendChild(dl);
    if (hit.is_person && window.PortalApplyLinks) { li.appendChild(window.PortalApplyLinks(hit)); }
    return li;
  }

  var compact = idQuery.compact;
  var idKind = idQuery.idKind;

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

  function officeContact() {
    var contact = document.getElementById("office-contact");
    var phone = contact ? contact.getAttribute("data-office-phone") : "";
    return phone ? "，或拨打信用办电话 " + phone + " 咨询" : "，或联系信用办咨询（联系方式见页面底部）";
  }

  function failed() {
    showStatus("查询服务暂时无法连接，请稍后再试。您也可以浏览各名单公示页面" + officeContact() + "。", "error");
  }

  function answer(resp) {
    return resp.json().catch(function () { return {}; }).then(function (body) { return { ok: resp.ok, status: resp.status, body: body }; });
  }

  function refused(r) {
    var msg = r.body && r.body.error && r.body.error.message ? r.body.error.message : "查询失败（" + r.status + "），请稍后再试。";
    showStatus(msg, "warn");
  }

  /* An ID number: POST /lookup with the number in the body only. The address shows no query at all. */
  function lookup(number) {
    if (window.location.search) { window.history.replaceState(null, "", window.location.pathname); }
    state.page = 1;
    results.replaceChildren();
    pager.hidden = true;
    showStatus("正在按证件号码精确查询…");
    fetch(API + "/lookup", {
      method: "POST", cache: "no-store", referrerPolicy: "no-referrer",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ id_number: number })
    }).then(answer).then(function (r) {
      if (!r.ok) { refused(r); return; }
      var hits = r.body.hits || [];
      if (!hits.length) {
        showStatus("没有找到与该证件号码对应的公示信息" + asOf(r.body) + "。未列入名单不代表信用状况，请核对号码是否完整、正确。");
        return;
      }
      showStatus("按证件号码找到 " + hits.length + " 条公示信息" + asOf(r.body) + "。");
      renderHits(hits);
    }).catch(failed);
  }

  function asOf(body) {
    return body && body.data_as_of ? "（数据截至" + zhDate(body.data_as_of) + "）" : "";
  }

  function run(page, push) {
    var p = params();
    var q = p.get("q") || "";
    if (q.length < 2) { showStatus("请输入至少2个字的查询内容。", "warn"); return; }
    var kind = idKind(q);
    if (kind === "invalid-id") {
      if (window.location.search) { window.history.replaceState(null, "", window.location.pathname); }
      results.replaceChildren();
      pager.hidden = true;
      showStatus("该号码不是有效的18位居民身份证号码（校验位不符），请核对后重新输入。", "warn");
      return;
    }
    if (kind === "id") { lookup(compact(q)); return; }
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
      .then(answer)
      .then(function (r) {
        if (!r.ok) { refused(r); return; }
        render(r.body);
      })
      .catch(failed);
  }

  /* Why a hit matched when its name does not show it: 法定代表人 王<mark>伟</mark>, 文号 … */
  function why(hit) {
    var h = hit.highlights || {};
    if (h.subject_name) { return null; }
    var names = Object.keys(WHY_LABELS).filter(function (k) { return h[k]; });
    if (!names.length) { return null; }
    var p = el("p", "result-why");
    p.appendChild(el("span", "result-why-label", "匹配内容："));
    names.forEach(function (k, i) {
      if (i) { p.appendChild(document.createTextNode("；")); }
      p.appendChild(document.createTextNode(WHY_LABELS[k] + " "));
      p.appendChild(highlighted(h[k], ""));
    });
    return p;
  }

  function subjectUrl(hit) {
    var code = String(hit.uscc || "");
    return !hit.is_person && /^[0-9A-Z]{18}$/.test(code) ? "/subjects/" + code + "/" : null;
  }

  /* One card per organisation (its subject page link, then each of its entries); persons one card a hit. */
  function renderHits(hits) {
    var groups = [];
    var byCode = {};
    hits.forEach(function (hit) {
      var url = subjectUrl(hit);
      if (url && byCode[url]) { byCode[url].hits.push(hit); return; }
      var group = { url: url, hits: [hit] };
      if (url) { byCode[url] = group; }
      groups.push(group);
    });
    groups.forEach(function (group) {
      if (!group.url) { results.appendChild(renderHit(group.hits[0])); return; }
      results.appendChild(renderGroup(group));
    });
  }

  function renderGroup(group) {
    var first = group.hits[0];
    var li = el("li", "result result-group");
    var h = el("h2", "result-title");
    var a = el("a");
    a.setAttribute("href", group.url);
    a.appendChild(highlighted(first.highlights && first.highlights.subject_name, first.subject_name));
    h.appendChild(a);
    li.appendChild(h);
    var dl = el("dl", "result-meta");
    var d = el("div");
    d.appendChild(el("dt", null, "统一社会信用代码"));
    d.appendChild(el("dd", "mono", first.uscc));
    dl.appendChild(d);
    li.appendChild(dl);
    var more = el("p");
    var link = el("a", "subject-link", "查看该主体全部公示信息（一户一档）");
    link.setAttribute("href", group.url);
    more.appendChild(link);
    li.appendChild(more);
    var ol = el("ol", "result-group-hits");
    ol.setAttribute("aria-label", first.subject_name + "的查询结果");
    group.hits.forEach(function (hit) {
      var item = renderHit(hit, true);
      ol.appendChild(item);
    });
    li.appendChild(ol);
    return li;
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
    showStatus("找到 " + total + " 条" + more + "结果" + asOf(body) + "。");
    renderHits(hits);
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
    /* an old link or bookmark with an ID number in it: run() takes it out of the address at once */
    if ((u.get("q") || "").length >= 2) { run(Number(u.get("page")) || 1, false); return; }
    /* an ID number typed into the home page's search box, handed over without a URL (id-query.js) */
    var handed = idQuery.take();
    if (handed) { lookup(handed); }
  }
  window.addEventListener("popstate", fromUrl);
  fromUrl();
}());
