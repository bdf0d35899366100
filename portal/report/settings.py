"""Named constants of the credit report. Operational settings (key paths, office, registry) are fields of
``search_api.settings.Settings`` (prefix ``PORTAL_REPORT_``) and reach this package as a ``ReportConfig``."""

from __future__ import annotations

from pathlib import Path

# Fonts tried in order when PORTAL_REPORT_FONT is not set: Debian fonts-wqy-microhei (TrueType outlines,
# which reportlab can subset and embed; Noto CJK ships CFF outlines that reportlab cannot embed).
FONT_CANDIDATES: tuple[tuple[Path, int], ...] = (
    (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0),
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
    (Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0),
)
# Subject CN and organisation of the generated development certificate: every reader shows it.
TEST_CERT_COMMON_NAME = "信用报告签章测试证书 TEST ONLY 非正式报告"
TEST_CERT_ORGANISATION = "测试 TEST ONLY"
# Marker searched for in a configured certificate: production refuses a certificate that carries it.
TEST_CERT_MARKER = "TEST ONLY"
# Days the generated development certificate is valid (long enough never to expire under a developer).
TEST_CERT_DAYS = 3650
# Bytes reserved in the PDF for the CMS signature: an RSA-4096 signature with a three-certificate chain
# fits in 8 KB; reserving a fixed size spares pyHanko a dry-run signature per report to estimate it.
SIGNATURE_BYTES_RESERVED = 16_384
# Field name of the signature in the PDF (readers list it in their signature panel).
SIGNATURE_FIELD = "公共信用信息报告签章"
# Random characters of a report number after its date (CODE_ALPHABET: 40 bits, unguessable, no collision in
# practice; the registry's primary key refuses a duplicate anyway).
REPORT_NO_RANDOM_CHARS = 8
# Characters of a verification code (32 symbols each: 60 bits). Only its SHA-256 digest is stored; with the
# API's verification rate limit, guessing one is out of reach.
VERIFY_CODE_CHARS = 12
# Alphabet of report numbers and codes: digits 2-9 and letters without I and O, so that nothing read off
# paper can be confused (0/O, 1/I/L); 32 symbols, 5 bits each.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
# Prefix of report numbers: 信用报告 (XYBG), then the issue date and the random part.
REPORT_NO_PREFIX = "XYBG"
