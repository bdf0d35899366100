/* Report verification over the portal API (POST /reports/verify). The report number comes from the query
   (?no=), the code from the fragment (#code=, never sent to any server, so never in an access log) or the
   form; the code is removed from the address bar once read. Everything from the API is shown with
   textContent only. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="portal-api"]');
  var API = meta ? meta.getAttribute("content").replace(/\/$/, "") : "/api/v1";
  // portal.report.content.SECTION_ORDER and SECTION_TITLES
  var SECTIONS = [["black", "失信惩戒信息（黑名单）"], ["watch", "重点关注名单信息"],
    ["decision", "行政许可和行政处罚信息（双公示）"], ["red", "守信激励信息（红名单）"]];
  var form = document.getElementById("verify-form");
  var noInput = document.getElementById("report-no");
  var codeInput = document.getElementById("report-code");
  var statusBox = document.getElementById("verify-status");
  var result = document.getElementById("verify-result");
  var facts = document.getElementById("verify-facts");
  var sections = document.getElementById("verify-sections");
  var fileInput = document.getElementById("verify-file");
  var fileStatus = document.getElementById("verify-file-status");
  var issuedDigest = null;

  var el = window.PortalDom.el, zhDate = window.PortalDom.zhDate;  // theme/js/dom.js

  function zhDateTime(iso) {
    var time = String(iso).slice(11, 16);  // issued_at is China Standard Time (+08:00)
    return zhDate(iso) + (time ? " " + time : "");
  }

  function row(dl, label, value) {
    if (value === null || value === undefined || value === "") { return; }
    var d = el("div");
    d.appendChild(el("dt", null, label));
    d.appendChild(el("dd", null, value));
    dl.appendChild(d);
  }

  function showStatus(text, kind) {
    statusBox.textContent = text;
    statusBox.className = "verify-status" + (kind ? " notice notice-" + kind : "");
  }

  function renderEntry(entry) {
    var li = el("li", "result");
    li.appendChild(el("h4", "result-title", entry.list_name || ""));
    var dl = el("dl", "result-meta");
    row(dl, "决定文书号", entry.decision_no);
    row(dl, "认定/决定机关", entry.authority);
    row(dl, "决定日期", zhDate(entry.decision_date));
    row(dl, "公示期限", zhDate(entry.publish_from) + (entry.publish_until ? "至" + zhDate(entry.publish_until) : "起（长期）"));
    row(dl, "公示状态", entry.status);
    row(dl, "主要事实", entry.facts);
    li.appendChild(dl);
    return li;
  }

  function render(report) {
    var ok = el("div");
    ok.appendChild(el("strong", null, "核验通过："));
    ok.appendChild(document.createTextNode("该报告由" + report.office + "于" + zhDateTime(report.issued_at) +
      "出具，以下是报告出具时记载的内容。"));
    statusBox.textContent = "";
    statusBox.appendChild(ok);
    statusBox.className = "verify-status notice verify-ok";
    if (report.test_key) {
      var warn = el("p", null, "注意：该报告由开发测试密钥签章，仅供测试，不具有任何效力。");
      statusBox.appendChild(warn);
    }
    facts.textContent = "";
    row(facts, "报告编号", report.report_no);
    row(facts, "主体名称", report.subject_name || "（本平台未公示该主体的信息）");
    row(facts, report.code_kind === "reg_no" ? "注册号" : "统一社会信用代码", report.subject_code);
    row(facts, "主体类别", report.subject_type);
    row(facts, "出具时间", zhDateTime(report.issued_at));
    row(facts, "数据截止日期", zhDate(report.data_as_of));
    row(facts, "出具机构", report.office);
    sections.textContent = "";
    SECTIONS.forEach(function (section) {
      var kind = section[0], title = section[1];
      var entries = (report.entries || []).filter(function (e) { return e.list_kind === kind; });
      var block = el("section");
      block.appendChild(el("h3", null, title + (entries.length ? "（" + entries.length + "条）" : "")));
      if (!entries.length) {
        block.appendChild(el("p", null, "截至" + zhDate(report.data_as_of) + "，未查询到该主体在本平台公示的" + title + "记录。"));
      } else {
        var list = el("ol", "results");
        entries.forEach(function (entry) { list.appendChild(renderEntry(entry)); });
        block.appendChild(list);
      }
      sections.appendChild(block);
    });
    issuedDigest = report.pdf_sha256;
    result.hidden = false;
  }

  function verify(number, code) {
    result.hidden = true;
    showStatus("正在核验……");
    fetch(API + "/reports/verify", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ report_no: number, code: code })
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (answer) {
      if (answer.status === 200 && answer.body.verified === true) { render(answer.body); return; }
      var message = answer.body && answer.body.error ? answer.body.error.message : "核验失败，请稍后再试。";
      showStatus("未通过核验：" + message, "error");
    }).catch(function () {
      showStatus("核验服务暂时无法访问，请稍后再试；也可在 PDF 阅读器中离线核验报告的电子签章。", "warn");
    });
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    if (!file || !issuedDigest) { return; }
    if (!(window.crypto && window.crypto.subtle)) { fileStatus.textContent = "此浏览器不支持文件比对，请在 PDF 阅读器中核验电子签章。"; return; }
    file.arrayBuffer().then(function (data) { return window.crypto.subtle.digest("SHA-256", data); }).then(function (digest) {
      fileStatus.textContent = hex(digest) === issuedDigest ? "文件一致：与出具时登记的报告文件完全相同。"
        : "文件不一致：该文件与出具时登记的报告文件不同，可能已被改动。";
    });
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var number = noInput.value.trim(), code = codeInput.value.trim();
    if (!number || !code) { showStatus("请输入报告编号和验证码。", "warn"); return; }
    history.replaceState(null, "", "?no=" + encodeURIComponent(number));
    verify(number, code);
  });

  var query = new URLSearchParams(window.location.search);
  var fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  var initialNo = query.get("no") || "", initialCode = fragment.get("code") || query.get("code") || "";
  if (initialNo) { noInput.value = initialNo; }
  if (initialCode) {
    codeInput.value = initialCode;
    // the code leaves the address bar (and the history) as soon as it is read
    history.replaceState(null, "", initialNo ? "?no=" + encodeURIComponent(initialNo) : window.location.pathname);
  }
  if (initialNo && initialCode) { verify(initialNo, initialCode); }
}());
