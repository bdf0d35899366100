"""Settings of the search API, read from the environment (prefix ``PORTAL_``).

Hard limits that shape the public interface are module constants (they appear in the OpenAPI document
through ``Query(le=...)``); operational settings are fields of :class:`Settings`. Every one of both is
documented in ``docs/api.md`` (a test checks this).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

API_PREFIX = "/api/v1"

# --- Limits of the public interface ---------------------------------------------------------------
# Most hits on one search page: enough for a results page, too few to make paging cheap for scrapers.
MAX_PER_PAGE = 50
# Default hits per page when the client does not say.
DEFAULT_PER_PAGE = 20
# Deepest position any search can reach (page * per_page). Nobody needs the 501st hit of a search box;
# refining the query is the answer. Keeps bulk harvesting through the search API impractical.
MAX_RESULT_WINDOW = 500
# Deepest position when the search is restricted to natural persons (subject_type=自然人): lists of people
# must not be harvestable by paging.
MAX_PERSON_RESULT_WINDOW = 100
# Highest page number accepted at all (MAX_RESULT_WINDOW with per_page=1).
MAX_PAGE = MAX_RESULT_WINDOW
# Longest query string accepted, in characters; longer input is refused, not truncated.
MAX_QUERY_LENGTH = 100
# Counting stops here: totals above it are reported as {"value": 1000, "relation": "gte"}, and facets are
# computed over the newest this-many matches. Counting is linear in the match count and is most of a broad
# query's cost; twice MAX_RESULT_WINDOW still tells "more than anyone can page through". Meilisearch's
# default (pagination.maxTotalHits) is the same 1,000.
MAX_COUNT = 1_000
# Most subjects in one POST /check call (government service windows check batches of applicants).
MAX_CHECK_SUBJECTS = 1_000
# Most hits returned per subject by /check and /lookup.
MAX_HITS_PER_SUBJECT = 50
# Most entries returned by /subjects/{uscc} (one organisation rarely has more than a handful).
MAX_SUBJECT_ENTRIES = 500
# Most change records per page of /changes.
MAX_CHANGES_PER_PAGE = 1_000
# Default change records per page of /changes.
DEFAULT_CHANGES_PER_PAGE = 500
# Longest ID number accepted by /lookup and /check (passports and passes included).
MAX_ID_NUMBER_LENGTH = 32
# Longest subject name accepted by /lookup and /check.
MAX_NAME_LENGTH = 200
# --- Credit report (公共信用信息报告, /subjects/{uscc}/report and /reports/verify) ---
# Default of PORTAL_RATE_REPORT_PER_MINUTE, the report's own bucket per client IP: a report costs ~0.2 s of
# CPU (render and sign), a search ~1 ms; a business needs a report or two, never a stream of them.
REPORT_RATE_PER_MINUTE = 6
# Default of PORTAL_RATE_VERIFY_PER_MINUTE, per client IP: a tender office checks a handful of reports, and
# with 60-bit codes this makes guessing one hopeless.
VERIFY_RATE_PER_MINUTE = 30
# Most entries in one report. A subject with more is refused (503 report_too_large) rather than handed an
# incomplete report; the largest organisations in real list data have a few dozen.
MAX_REPORT_ENTRIES = 2_000
# Longest report number and verification code accepted by /reports/verify (as typed: spaces and hyphens too).
MAX_REPORT_NO_LENGTH = 40
MAX_VERIFY_CODE_LENGTH = 40
# Threads that render and sign reports: CPU-bound Python under the GIL, so one is enough on two cores and
# keeps a burst of reports from taking the engine slots that searches use.
REPORT_THREADS = 1


class Settings(BaseSettings):
    """Operational settings; environment variables ``PORTAL_<NAME>`` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    engine: Literal["sqlite", "meilisearch"] = Field(
        "sqlite", description="Search engine: embedded SQLite FTS5 (default) or a Meilisearch server")
    index_path: Path = Field(Path("var/search/index.sqlite3"), description="SQLite index file (engine sqlite)")
    site_origin: str = Field("http://127.0.0.1:8000", description="The only origin allowed by CORS")
    hmac_key: SecretStr = Field(SecretStr(""), description="Key of the ID-number digests; /lookup and /check "
                                "by ID number answer 503 while it is empty")
    api_keys_db: Path = Field(Path("var/api_keys.sqlite3"), description="SQLite file of hashed API keys")
    meili_url: str | None = Field(None, validation_alias=AliasChoices("MEILI_URL", "PORTAL_MEILI_URL"),
                                  description="Meilisearch URL (engine meilisearch)")
    meili_key: SecretStr | None = Field(None, validation_alias=AliasChoices("MEILI_KEY", "PORTAL_MEILI_KEY"),
                                        description="Meilisearch API key")
    meili_index: str = Field("portal_entries", description="Name of the live Meilisearch index (a prefix "
                             "for its companions)")
    sqlite_mmap_bytes: int = Field(2**31, ge=0, description="Bytes of the SQLite index read through a memory "
                                   "map (engine sqlite; 0 turns it off; SQLite caps it near 2 GiB)")
    query_timeout_ms: int = Field(2_000, description="Time limit of one engine query; beyond it 503")
    engine_slots: int = Field(4, ge=1, description="Engine queries running at once per worker; more wait their "
                              "turn before their time limit starts (two cores gain nothing from more)")
    engine_queue_seconds: float = Field(15.0, gt=0, description="Longest wait for an engine slot; beyond it 503 "
                                        "busy with Retry-After")
    max_body_bytes: int = Field(512 * 1024, description="Largest request body accepted (413 beyond)")
    rate_search_per_minute: int = Field(120, description="Searches per minute per client IP")
    rate_person_per_minute: int = Field(20, description="Person searches and /lookup calls per minute per client IP")
    rate_check_per_minute: int = Field(60, description="/check calls per minute per API key")
    rate_burst_factor: float = Field(0.25, description="Bucket size as a fraction of the per-minute rate (min 1)")
    access_log: bool = Field(True, description="Write an access log line per request (logger search_api.access)")
    trust_forwarded_for: bool = Field(False, description="Take the client IP from X-Forwarded-For (only behind "
                                      "a proxy that sets it)")
    # --- credit report (docs/operations.md, "Credit report signing key") ---
    rate_report_per_minute: int = Field(REPORT_RATE_PER_MINUTE, description="Credit reports per minute per client IP")
    rate_verify_per_minute: int = Field(VERIFY_RATE_PER_MINUTE, description="Report verifications per minute per "
                                        "client IP")
    report_office: str = Field("达州市社会信用体系建设领导小组办公室", description="Issuing office printed on reports")
    report_verify_url: str | None = Field(None, description="The site's verification page (QR code target); "
                                          "default: PORTAL_SITE_ORIGIN + /verify/")
    report_registry_db: Path = Field(Path("var/reports.sqlite3"), description="Private SQLite store of issued "
                                     "reports (never published; back it up)")
    report_signing_pkcs12: Path | None = Field(None, description="The office's signing key and certificate chain "
                                               "(PKCS#12)")
    report_signing_key: Path | None = Field(None, description="PEM signing key (with PORTAL_REPORT_SIGNING_CERT)")
    report_signing_cert: Path | None = Field(None, description="PEM signing certificate")
    report_signing_chain: Path | None = Field(None, description="PEM file of intermediate certificates (PEM key only)")
    report_signing_passphrase: SecretStr = Field(SecretStr(""), description="Passphrase of the PKCS#12 file or PEM key")
    report_dev_key_dir: Path = Field(Path("var/report-signing-test"), description="Where the generated TEST ONLY "
                                     "signing key lives outside production")
    report_font: Path | None = Field(None, description="TrueType CJK font embedded in reports (default: Debian "
                                     "fonts-wqy-microhei)")
