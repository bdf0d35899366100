"""Named limits and constants of the core package. Every number here has a reason next to it."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")  # all portal dates and times are China Standard Time

DATA_DIR = Path(__file__).parent / "data"  # shipped data files operators may extend or override
CATALOGUE_FILE = DATA_DIR / "lists.toml"
MASKING_FILE = DATA_DIR / "masking.toml"
HOLIDAYS_FILE = DATA_DIR / "holidays.toml"
MEASURES_FILE = DATA_DIR / "measures.toml"  # joint incentive/punishment measures, copied into each snapshot
MEASURES_ENV = "PORTAL_MEASURES"  # environment variable naming another measures file

SNAPSHOT_FORMAT = 1  # bump when docs/snapshot-format.md changes incompatibly (new optional files are not)
# How many earlier snapshot versions the change feed reaches back through ``manifest.previous``.
MAX_CHANGE_HISTORY_VERSIONS = 400
SNAPSHOTS_KEPT = 7  # versions kept on disk (a week of nightly publishes) for rollback and audit
DEFAULT_VAR_DIR = Path("var")  # working data of a deployment, relative to the current directory
DEFAULT_SNAPSHOTS_DIR = DEFAULT_VAR_DIR / "snapshots"

# --- HMAC key for exact-lookup digests -------------------------------------------------------------
HMAC_KEY_ENV = "PORTAL_HMAC_KEY"  # secret; lives only on the ingest and API servers
PORTAL_ENV_ENV = "PORTAL_ENV"  # "production" refuses to run on the development key
DEV_HMAC_KEY = "DEVELOPMENT-ONLY-insecure-portal-key"  # clearly marked; never valid in production
MIN_PRODUCTION_KEY_LENGTH = 32  # bytes of key material; HMAC-SHA256 wants at least its block of entropy

# --- Validation bounds (characters, after normalisation) --------------------------------------------
MAX_NAME_LENGTH = 200  # longest registered enterprise names are ~60 chars; leave room for branches
MIN_NAME_LENGTH = 2  # one-character names are data errors in practice
MAX_SHORT_FIELD_LENGTH = 200  # decision numbers, authorities, regions, list names
MAX_TEXT_LENGTH = 5_000  # facts and basis: a long paragraph, never a whole document
MAX_DETAIL_LENGTH = 1_000  # template detail columns (处罚内容 and similar)
EARLIEST_DECISION_DATE_YEAR = 1990  # the social credit lists start in the 2010s; older dates are typos

# --- Excel serial dates ------------------------------------------------------------------------------
EXCEL_SERIAL_MIN = 20_000  # 1954-10-03: smaller numbers in a date column are not dates
EXCEL_SERIAL_MAX = 80_000  # 2119-01-10

# --- Import streaming --------------------------------------------------------------------------------
INGEST_BATCH_ROWS = 2_000  # rows per message from a reader process: big enough to amortise pickling
INGEST_QUEUE_BATCHES = 8  # batches in flight per import: bounds memory when the writer falls behind
INGEST_MAX_WORKERS = 4  # reader processes at most; one per core by default
INGEST_MEMO_LOOKUP_KEYS = 500  # memo keys per SELECT … IN (…) (portal.ingest.ingest_memo); SQLite allows 32,766 parameters
