"""What the report package needs to know, passed in by its caller (the API reads it from its settings)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReportConfig:
    office: str  # issuing office, printed on the report and in the signature's location
    verify_url: str  # the site's /verify/ page: the QR code points here
    registry_db: Path  # private SQLite store of issued reports
    dev_key_dir: Path  # where the generated TEST ONLY key lives (development only)
    production: bool  # PORTAL_ENV=production: refuse to run on a missing or test key
    pkcs12: Path | None = None  # the office's signing key and certificate chain as PKCS#12 ...
    key: Path | None = None  # ... or a PEM private key ...
    cert: Path | None = None  # ... with its PEM certificate
    chain: tuple[Path, ...] = ()  # PEM intermediate certificates embedded in the signature (PEM key only)
    passphrase: bytes | None = None  # of the PKCS#12 file or the PEM key
    font: Path | None = None  # a TrueType CJK font; None: the first of settings.FONT_CANDIDATES found
