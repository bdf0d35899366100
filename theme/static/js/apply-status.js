/* /apply-status/?receipt=…#code=…: the progress of one application (受理 → 核查中 → 已办结). The query code
   arrives in the fragment (never sent to any server) and leaves the address bar once read. */
(function () {
  "use strict";
  var A = window.PortalApply;
  var form = document.getElementById("status-form");
  var message = document.getElementById("status-message");
  var result = document.getElementById("status-result");

  function step(title, state, lines) {
    var li = A.el("li", "step step-" + state);
    li.appendChild(A.el("strong", null, title));
    var label = { done: "（已完成）", current: "（进行中）", todo: "" }[state];
    if (label) { li.appendChild(document.createTextNode(label)); }
    lines.forEach(function (line) { if (line) { li.appendChild(A.el("p", null, line)); } });
    return li;
  }

  function render(s) {
    var d = s.deadlines;
    var objection = s.kind === "objection";
    document.getElementById("status-title").textContent = s.kind_zh + " " + s.receipt + "：" + s.state_zh;
    var steps = document.getElementById("status-steps");
    steps.replaceChildren();
    var acceptedState = s.state === "received" ? "current" : "done";
    steps.appendChild(step("受理", acceptedState, [
      "收到申请：" + A.zhDate(s.received_on),
      s.accepted_on ? "受理日期：" + A.zhDate(s.accepted_on) : (s.state === "received" ? "应于" + A.zhDate(d.accept_by) + "前决定是否受理" : ""),
    ]));
    var checking = s.state === "accepted" ? "current" : (s.state === "closed" && s.accepted_on ? "done" : "todo");
    steps.appendChild(step(objection ? "核查中" : "审核", checking, [
      s.state === "closed" ? "" : (objection ? "核查期限：" : "审核期限：") + A.zhDate(d.decide_by) + "（情况复杂的不超过" + A.zhDate(d.decide_by_extended) + "）",
      objection && s.state === "accepted" ? "核查期间该信息标注“异议处理中”。" : "",
    ]));
    steps.appendChild(step("已办结", s.state === "closed" ? "done" : "todo", s.state === "closed" ? [
      "处理结果：" + (s.outcome_zh || ""),
      "办结日期：" + A.zhDate(s.closed_on),
      s.outcome === "repaired" && s.effective_on ? "该信息自" + A.zhDate(s.effective_on) + "起停止公示。" : "",
      s.reply ? "说明：" + s.reply : "",
    ] : []));
    var entry = document.getElementById("status-entry");
    entry.replaceChildren();
    var a = A.el("a", null, "查看涉及的公示信息（" + s.entry.list_name + "）");
    a.setAttribute("href", /^\/entries\/[0-9a-f]{16}\/$/.test(s.entry.url) ? s.entry.url : "/");
    entry.appendChild(a);
    result.hidden = false;
    result.focus();
  }

  function query() {
    var receipt = form.elements.receipt.value.trim();
    var code = form.elements.code.value.trim();
    if (!receipt || !code) { A.say(message, "请输入受理编号和查询码。", "warn"); return; }
    A.say(message, "正在查询…");
    result.hidden = true;
    A.call("/status", { method: "POST", headers: { "Content-Type": "application/json" },
                         body: JSON.stringify({ receipt: receipt, code: code }) }).then(function (r) {
      if (!r.ok) { A.say(message, A.errorText(r), "warn"); return; }
      A.say(message, "");
      render(r.body);
    });
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); query(); });
  var u = new URLSearchParams(window.location.search);
  var fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  if (u.get("receipt")) { form.elements.receipt.value = u.get("receipt"); }
  if (fragment.get("code")) {
    form.elements.code.value = fragment.get("code");
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  if (form.elements.receipt.value && form.elements.code.value) { query(); }
}());
