"""公共信用信息报告: the signed PDF credit report of an organisation, and the registry that verifies it.

- ``content``: what a report says (subject, entries by kind, statements for empty kinds), from masked entries.
- ``document``: the PDF itself (reportlab, an embedded CJK font, a QR code to the /verify page).
- ``signing``: the office's signing key (PKCS#12 or PEM; a generated TEST ONLY key in development), PAdES
  signatures with pyHanko, and their validation.
- ``registry``: a private SQLite store of every issued report (number, code digest, what it said).
- ``issue``: one call that builds, signs and records a report.

Persons never get a report: only organisations and 个体工商户, found by USCC or registration number.
"""
