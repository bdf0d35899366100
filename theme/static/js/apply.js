/* /apply/?entry=<id>&kind=objection|repair: the online application form. The anti-automation step is a
   proof of work (portal/applications/challenge.py): the server signs a token, this page finds a nonce
   whose SHA-256 with the token starts with the asked number of zero bits (Web Crypto), while the visitor
   fills in the form. No third-party script or CDN is involved. */
(function () {
  "use strict";
  var A = window.PortalApply;
  var MAX_FILES = 5; // portal.applications.settings.MAX_ATTACHMENTS
  var MAX_BYTES = 5 * 1024 * 1024; // MAX_ATTACHMENT_BYTES
  var SUFFIXES = /\.(pdf|jpe?g|png|docx)$/i;
  var form = document.getElementById("apply-form");
  var message = document.getElementById("apply-message");
  var powNote = document.getElementById("apply-pow");
  var submitButton = document.getElementById("apply-submit");
  var params = new URLSearchParams(window.location.search);
  var entryId = params.get("entry") || "";
  var summary = null;
  var proof = null; // Promise of {token, nonce}

  function zeroBits(bytes) {
    var bits = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { bits += 8; continue; }
      var b = bytes[i];
      while ((b & 0x80) === 0) { bits += 1; b <<= 1; }
      return bits;
    }
    return bits;
  }

  function solve(token, bits) {
    var enc = new TextEncoder();
    var BATCH = 256;
    function batch(start) {
      var tries = [];
      for (var n = start; n < start + BATCH; n++) {
        tries.push(crypto.subtle.digest("SHA-256", enc.encode(token + ":" + n)));
      }
      return Promise.all(tries).then(function (digests) {
        for (var i = 0; i < digests.length; i++) {
          if (zeroBits(new Uint8Array(digests[i])) >= bits) { return String(start + i); }
        }
        return batch(start + BATCH);
      });
    }
    return batch(0);
  }

  function newProof() {
    if (!window.crypto || !crypto.subtle) {
      proof = Promise.reject(new Error("本浏览器不支持安全验证，请更换浏览器或到政务服务中心信用窗口办理。"));
      return;
    }
    proof = A.call("/challenge").then(function (r) {
      if (!r.ok) { throw new Error(A.errorText(r)); }
      return solve(r.body.token, r.body.bits).then(function (nonce) {
        powNote.textContent = "安全验证已完成。";
        return { token: r.body.token, nonce: nonce };
      });
    });
    proof.catch(function () {});
  }

  function kind() { return form.elements.kind.value; }

  function describeDeadlines() {
    if (!summary) { return; }
    var k = kind();
    var d = summary[k].deadlines;
    var text = "如今天提交：收到申请后2个工作日内（最迟" + A.zhDate(d.accept_by) + "）决定是否受理；";
    if (k === "objection") {
      text += "受理后10个工作日内完成核查（最迟" + A.zhDate(d.decide_by) + "，情况复杂的不超过15个工作日）。核查期间该信息标注“异议处理中”。";
    } else {
      text += "受理后5个工作日内作出是否同意修复的决定（最迟" + A.zhDate(d.decide_by) + "，需认定部门核实的不超过15个工作日）。受理部门：" + summary.repair.handled_by + "。";
    }
    document.getElementById("apply-deadlines").textContent = text + "工作日按国家法定节假日和调休安排计算。";
    var refusal = document.getElementById("repair-refusal");
    refusal.hidden = !(k === "repair" && !summary.repair.allowed);
    refusal.textContent = summary.repair.refusal || "";
    submitButton.disabled = k === "repair" && !summary.repair.allowed;
    document.getElementById("grounds_label").textContent = k === "objection" ? "申请理由 *" : "纠正失信行为、履行义务的情况 *";
    document.getElementById("grounds_hint").textContent = k === "objection"
      ? "请写明哪一项信息有误、正确的内容是什么，以及所附证明材料。"
      : "请写明已如何纠正失信行为、履行了哪些义务（如缴纳罚款、完成整改），以及所附证明材料。";
  }

  function describeApplicant() {
    var person = form.elements.applicant_type.value === "person";
    document.getElementById("applicant_code_label").textContent = person ? "证件号码 *" : "统一社会信用代码 *";
    document.getElementById("id-type-field").hidden = !person;
  }

  function checkFiles() {
    var files = document.getElementById("attachments").files;
    if (!files.length) { return "请上传至少1个附件（申请表或身份证明、证明材料）。"; }
    if (files.length > MAX_FILES) { return "附件最多" + MAX_FILES + "个。"; }
    for (var i = 0; i < files.length; i++) {
      if (files[i].size > MAX_BYTES) { return "第" + (i + 1) + "个附件超过 5 MB，请压缩或分开上传。"; }
      if (!SUFFIXES.test(files[i].name)) { return "第" + (i + 1) + "个附件不是 PDF、JPG、PNG 或 DOCX 文件。"; }
    }
    return null;
  }

  function showDone(body) {
    form.hidden = true;
    A.say(message, "");
    document.getElementById("done-receipt").textContent = body.receipt;
    document.getElementById("done-code").textContent = body.code;
    document.getElementById("done-deadline").textContent = "本站将于" + A.zhDate(body.status.deadlines.accept_by) +
      "前决定是否受理，受理后最迟" + A.zhDate(body.status.deadlines.decide_by) + "办结。";
    /* The code goes in the fragment: browsers never send it to a server, so it is in no log. */
    var link = document.getElementById("done-status-link");
    link.setAttribute("href", link.getAttribute("href") + "?receipt=" + encodeURIComponent(body.receipt) +
      "#code=" + encodeURIComponent(body.code));
    var done = document.getElementById("apply-done");
    done.hidden = false;
    done.focus();
  }

  function submit(ev) {
    ev.preventDefault();
    var problem = checkFiles();
    if (!problem && !form.reportValidity()) { return; }
    if (problem) { A.say(message, problem, "warn"); return; }
    submitButton.disabled = true;
    A.say(message, "正在进行安全验证并提交，请稍候…");
    proof.then(function (p) {
      var data = new FormData(form);
      data.set("challenge_token", p.token);
      data.set("challenge_nonce", p.nonce);
      return A.call("/applications", { method: "POST", body: data });
    }, function (err) {
      return { ok: false, status: 0, body: { error: { message: err.message } } };
    }).then(function (r) {
      submitButton.disabled = false;
      if (r.ok) { showDone(r.body); return; }
      A.say(message, A.errorText(r), "warn");
      newProof(); // every challenge is good for one attempt
    });
  }

  if (!/^[0-9a-f]{16}$/.test(entryId)) {
    A.say(message, "请从信息页面上的“提出异议”或“申请信用修复”链接进入本页。", "warn");
    return;
  }
  document.getElementById("entry_id").value = entryId;
  if (params.get("kind") === "repair") { form.elements.kind.value = "repair"; }
  A.call("/entries/" + entryId).then(function (r) {
    if (!r.ok) { A.say(message, A.errorText(r), "warn"); return; }
    summary = r.body;
    document.getElementById("apply-entry-list").textContent = summary.list_name;
    document.getElementById("apply-entry-subject").textContent = summary.subject_name || "（自然人，姓名不在此显示）";
    document.getElementById("apply-entry-status").textContent = summary.status;
    document.getElementById("apply-entry").hidden = false;
    form.hidden = false;
    describeApplicant();
    describeDeadlines();
    newProof();
  });
  form.addEventListener("change", function (ev) {
    if (ev.target.name === "kind") { describeDeadlines(); }
    if (ev.target.name === "applicant_type") { describeApplicant(); }
  });
  form.addEventListener("submit", submit);
}());
