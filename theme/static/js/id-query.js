/* Which search queries are personal document numbers, shared by the search page and every search box.

   A query shaped like a 居民身份证 number (18 digits or 17 + X, legacy 15 digits; spaces, hyphens and
   full-width digits allowed), a 港澳居民来往内地通行证 number (H/M + 8 or 10 digits) or a passport number
   (E/G + 8 characters) must never travel in a URL: not in the address bar, the history, or a server's
   access log. A search box outside the search page (form[data-id-safe]) therefore hands such a number to
   /search/ through sessionStorage (this tab only, read once and deleted) instead of ?q=. */
(function () {
  "use strict";
  var KEY = "portal-id-query";
  var RIC18 = /^[0-9]{17}[0-9X]$/;
  var RIC15 = /^[0-9]{15}$/;
  var PASSES = [/^[HM][0-9]{8}([0-9]{2})?$/, /^[EG][0-9A-Z][0-9]{7}$/];
  var USCC = /^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$/;
  var USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  var RIC_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

  /* NFKC folds full-width digits and letters (１２３Ｘ → 123X); spaces and hyphens people type are dropped. */
  function compact(q) {
    var s = String(q || "");
    if (s.normalize) { s = s.normalize("NFKC"); }
    return s.replace(/[\s\-]/g, "").toUpperCase();
  }

  function usccValid(code) {  /* GB 32100-2015 check character (portal/identifiers.py) */
    if (!USCC.test(code)) { return false; }
    var total = 0;
    for (var i = 0; i < 17; i += 1) { total += USCC_ALPHABET.indexOf(code.charAt(i)) * USCC_WEIGHTS[i]; }
    return USCC_ALPHABET.charAt((31 - total % 31) % 31) === code.charAt(17);
  }

  function ricValid(number) {  /* GB 11643-1999 check digit */
    var total = 0;
    for (var i = 0; i < 17; i += 1) { total += Number(number.charAt(i)) * RIC_WEIGHTS[i]; }
    return "10X98765432".charAt(total % 11) === number.charAt(17);
  }

  /* "id" for a personal document number, "invalid-id" for an 18-character ID with a wrong check digit, null
     otherwise. An all-digit 18-character USCC with a valid check character is a USCC (searched by GET). */
  function idKind(q) {
    var c = compact(q);
    if (RIC15.test(c)) { return "id"; }
    if (RIC18.test(c)) {
      if (ricValid(c)) { return "id"; }
      return usccValid(c) ? null : "invalid-id";
    }
    for (var i = 0; i < PASSES.length; i += 1) { if (PASSES[i].test(c)) { return "id"; } }
    return null;
  }

  function hand(number) {
    try { window.sessionStorage.setItem(KEY, number); return true; } catch (e) { return false; }
  }

  function take() {
    try {
      var number = window.sessionStorage.getItem(KEY);
      window.sessionStorage.removeItem(KEY);
      return number;
    } catch (e) { return null; }
  }

  window.PortalIdQuery = { compact: compact, idKind: idKind, take: take };

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-id-safe")) { return; }
    var input = form.elements.q;
    if (!input || !idKind(input.value)) { return; }
    ev.preventDefault();  /* never ?q=<number> */
    var target = form.getAttribute("action") || "/search/";
    if (hand(compact(input.value))) {
      window.location.assign(target);
    } else {
      input.setCustomValidity("请在“信用查询”页面输入证件号码查询。");
      input.reportValidity();
    }
  }, true);
}());
