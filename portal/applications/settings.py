"""Limits and settings of the applications service. Every number has its reason next to it; every one is
documented in docs/applications.md (a test checks this)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

API_PREFIX = "/apply/v1"

# --- Attachments ---------------------------------------------------------------------------------------
# Largest single attachment: a scanned A4 page at 300 dpi is 1–3 MB as JPEG/PDF; 5 MB leaves room.
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
# Most attachments per application: application form, ID/licence copy, evidence, commitment, authorisation.
MAX_ATTACHMENTS = 5
# Largest request body: every attachment at its limit plus the form fields and multipart framing.
MAX_BODY_BYTES = MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES + 256 * 1024
# Longest original file name kept (shown to the operator only).
MAX_FILENAME_LENGTH = 120

# --- Form fields (characters) ----------------------------------------------------------------------------
MAX_NAME_LENGTH = 200  # unit names run to ~60 characters; branches add more
MAX_CONTACT_LENGTH = 50  # a contact person's name
MAX_PHONE_LENGTH = 20  # mobile or landline with area code and extension
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
MAX_ID_LENGTH = 32  # passports and passes included (search_api.settings.MAX_ID_NUMBER_LENGTH)
MIN_GROUNDS_LENGTH = 10  # "信息有误" alone tells the office nothing to check
MAX_GROUNDS_LENGTH = 3_000  # a page of reasons; documents go in attachments
MAX_REASON_LENGTH = 1_000  # the operator's reason shown to the applicant

# --- Abuse limits --------------------------------------------------------------------------------------
# Applications per client address per hour: a business files one or two; a window clerk helping walk-in
# applicants a few more.
SUBMISSIONS_PER_CLIENT_PER_HOUR = 6
# Applications per entry per day: the subject, its agent and a correction; more is a flood against one entry.
SUBMISSIONS_PER_ENTRY_PER_DAY = 3
# Status queries per client per minute: someone re-checking; the query code space (50 bits) makes guessing
# hopeless anyway, this only keeps scripts from hammering the store.
STATUS_QUERIES_PER_CLIENT_PER_MINUTE = 10
# Wrong query codes per receipt number per hour before the receipt refuses further attempts for the hour.
WRONG_CODES_PER_RECEIPT_PER_HOUR = 5
# Challenges per client per minute (each form load asks for one).
CHALLENGES_PER_CLIENT_PER_MINUTE = 20
# Entry summaries (the form page's header) per client per minute: the same budget as a person search on
# the public API (search_api Settings.rate_person_per_minute), since entry ids could be walked through it.
ENTRY_LOOKUPS_PER_CLIENT_PER_MINUTE = 20

# --- Anti-automation: proof of work ---------------------------------------------------------------------
# Leading zero bits of SHA-256(token ":" nonce). 16 bits: 65,536 hashes on average; 0.8–1.9 s expected in
# Chromium (Web Crypto, batches of 256) on the loaded 2-core test machine (docs/applications.md), so a few
# seconds on an old phone — spent while the visitor fills in the form, since the work starts on page load.
# Negligible for one applicant, a real cost for a script filing thousands.
DEFAULT_POW_BITS = 16
# A challenge is valid this long after it was issued: time enough to fill in the form and pick files.
CHALLENGE_TTL_SECONDS = 2 * 60 * 60
# Challenges remembered as used (each may be used once); older ones have expired anyway.
MAX_USED_CHALLENGES = 100_000

# --- Receipts and query codes -------------------------------------------------------------------------
QUERY_CODE_LENGTH = 10  # Crockford base32 characters: 50 bits
RECEIPT_RANDOM_LENGTH = 6  # base32 characters after the kind and date: 30 bits, unguessable in practice

# --- Retention --------------------------------------------------------------------------------------------
# Closed applications (and their attachments) are kept this many years after they were closed, then purged
# by the nightly run: well past 行政复议 (60 days) and 行政诉讼 (6 months) against the decision, and as long
# as a repaired subject's 3-year bar on a new repair after a broken commitment (修复办法 第十条). The paper
# file, where the office keeps one, follows its own records schedule.
RETENTION_YEARS = 3
# Applications never accepted nor decided (abandoned, spam that passed the checks) are purged after this many
# days: the office decides within 2 working days, so a year-old open application is an operator's oversight,
# shown in red by `portal applications list` long before.
UNDECIDED_RETENTION_DAYS = 365


class Settings(BaseSettings):
    """Operational settings; environment variables ``PORTAL_APPLY_<NAME>`` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="PORTAL_APPLY_", extra="ignore")

    db_url: str = Field("", description="SQLAlchemy URL of the store; empty = SQLite at <var>/applications/"
                        "applications.db (PostgreSQL: postgresql+psycopg://user:pw@host/db)")
    var_dir: Path = Field(Path("var"), description="Deployment data directory; the store and attachments live "
                          "in <var>/applications/, never under releases/ or snapshots/")
    attachments_dir: Path | None = Field(None, description="Attachment directory; default "
                                         "<var>/applications/attachments (must be outside every published "
                                         "directory)")
    index_path: Path | None = Field(None, description="Search index used to check that an entry is public; "
                                    "default <var>/current/index.db")
    site_origin: str = Field("http://127.0.0.1:8000", description="The only origin allowed by CORS (the site)")
    challenge_key: SecretStr = Field(SecretStr(""), description="Key signing the anti-automation challenges; "
                                     "empty = a random key per process (challenges then do not survive a "
                                     "restart)")
    pow_bits: int = Field(DEFAULT_POW_BITS, ge=0, le=24, description="Proof-of-work difficulty in bits")
    trust_forwarded_for: bool = Field(False, description="Take the client IP from X-Forwarded-For (only behind "
                                      "a proxy that sets it)")
    access_log: bool = Field(True, description="Write an access log line per request (never bodies)")

    @property
    def root(self) -> Path:
        return self.var_dir / "applications"

    @property
    def resolved_db_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.root / 'applications.db').resolve()}"

    @property
    def resolved_attachments_dir(self) -> Path:
        return self.attachments_dir or self.root / "attachments"

    @property
    def resolved_index_path(self) -> Path:
        return self.index_path or self.var_dir / "current" / "index.db"
