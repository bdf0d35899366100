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
