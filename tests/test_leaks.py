"""Privacy leak test: no raw ID number, phone or bank account of the input anywhere public.

The sample generator writes 2,000 rows of department files; ``portal publish`` (the CLI) turns them into a
live release in a temporary var directory. Then every artefact is scanned:

- every file of the var directory: site output (pages, feeds, sitemap, bulk downloads), snapshots,
  releases, the SQLite search index (raw bytes, free pages included) and the audit and page-store databases;
- every column of every table of every SQLite file, read through SQLite (catches text SQLite stores in a
  way that the raw bytes would not show contiguously);
- the CLI output of the publish;
- API responses (FastAPI TestClient on the live index) for searches, entries, subjects, /lookup and /check
  with real numbers from the input, plus every log record written while serving them.

Two checks run on each artefact: every raw value from ``portal.sample.sensitive_values`` (and its lower-case
and digits-only forms) must not occur; and nothing that is a valid 18-character 居民身份证 number at all (check
digit and a plausible birth date) may occur. Failures list artefact, byte offset and value.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import ahocorasick
import orjson
import pytest

from portal.ingest.identifiers import ric_check_digit
from portal.sample import sensitive_values

pytestmark = pytest.mark.slow

AS_OF = "2026-11-23"
SAMPLE_ROWS = 2_000
MAX_REPORTED = 25
HEX_DIGEST_MIN = 32  # a hit inside a run of at least this many hex characters is part of a digest, not data
RIC_CANDIDATE = re.compile(rb"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9Xx])")


# --- what counts as a leak -------------------------------------------------------------------------


def needle_forms(value: str) -> set[str]:
    """The raw value as it could be written: as given, lower case, and digits only (phones with dashes)."""
    forms = {value, value.lower()}
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 11 and digits != value:
        forms.add(digits)
    return forms


def inside_hex_digest(data: bytes, start: int, end: int) -> bool:
    """True when [start, end) lies in a run of hex digits long enough to be a SHA-256/HMAC digest."""
    hexdigits = b"0123456789abcdefABCDEF"
    left, right = start, end
    while left > 0 and data[left - 1] in hexdigits:
        left -= 1
    while right < len(data) and data[right] in hexdigits:
        right += 1
    run = data[left:right]
    return right - left >= HEX_DIGEST_MIN and all(c in b"0123456789abcdef" for c in run)


def plausible_birth_date(number: str) -> bool:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date(2026, 12, 31)


def is_valid_ric(candidate: str) -> bool:
    return (candidate[0] in "12345678" and ric_check_digit(candidate[:17]) == candidate[17].upper()
            and plausible_birth_date(candidate))


@dataclass
class LeakScanner:
    """Scans named artefacts for raw values (Aho–Corasick automaton: one pass per artefact for all needles)."""

    raw_values: set[str]
    findings: list[str] = field(default_factory=list)
    scanned: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.automaton = ahocorasick.Automaton()
        for value in self.raw_values:
            for form in needle_forms(value):
                self.automaton.add_word(form, (len(form), value))
        self.automaton.make_automaton()

    def scan(self, kind: str, name: str, data: bytes) -> None:
        self.scanned[kind] += 1
        text = data.decode("latin-1")  # byte offsets stay offsets; every needle is ASCII
        for end, (length, raw) in self.automaton.iter(text):
            start = end + 1 - length
            if not inside_hex_digest(data, start, end + 1):
                self.findings.append(f"{kind} {name} @ byte {start}: raw input value {raw!r}")
        for match in RIC_CANDIDATE.finditer(data):
            candidate = match.group().decode()
            if is_valid_ric(candidate) and not inside_hex_digest(data, match.start(), match.end()):
                self.findings.append(f"{kind} {name} @ byte {match.start()}: valid 身份证 number {candidate!r}")

    def report(self) -> str:
        shown = self.findings[:MAX_REPORTED]
        more = len(self.findings) - len(shown)
        return f"{len(self.findings)} leak(s):\n" + "\n".join(shown) + (f"\n… and {more} more" if more > 0 else "")


# --- the published sample --------------------------------------------------------------------------


@dataclass
class Published:
    inputs: list[Path]
    var: Path
    cli_output: bytes
    raw_values: set[str]

    @property
    def release(self) -> Path:
        return (self.var / "current").resolve()

    @property
    def snapshot(self) -> Path:
        return (self.var / "snapshots" / "latest").resolve()

    def entries(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in (self.snapshot / "entries.jsonl").read_bytes().splitlines() if line]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "portal.cli", *args], cwd=cwd, env=env, capture_output=True,
                          timeout=300)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    work = tmp_path_factory.mktemp("leaks")
    sample = run_cli("sample", "--out", str(work / "inbox"), "--rows", str(SAMPLE_ROWS), "--as-of", AS_OF, cwd=work)
    assert sample.returncode == 0, sample.stderr.decode()
    inputs = sorted(p for p in (work / "inbox").iterdir() if p.suffix in (".csv", ".xlsx"))
    result = run_cli("publish", *map(str, inputs), "--var", str(work / "var"), "--as-of", AS_OF, cwd=work)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    raw = sensitive_values(inputs)
    assert len(raw) > 1_000, "the sample should hold well over a thousand raw identifiers"
    return Published(inputs, work / "var", result.stdout + result.stderr, raw)


def files_below(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def sqlite_files(root: Path) -> Iterator[Path]:
    for path in files_below(root):
        with open(path, "rb") as f:
            if f.read(16) == b"SQLite format 3\x00":
                yield path


def sqlite_cells(path: Path) -> Iterator[tuple[str, bytes]]:
    """Every value of every column of every table, as text; location 'table.column'."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        for table in tables:
            try:
                cursor = db.execute(f'SELECT * FROM "{table}"')
            except sqlite3.OperationalError:  # e.g. an FTS5 shadow table that only the module may read
                continue
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    data = value if isinstance(value, bytes) else str(value).encode()
                    yield f"{table}.{column}", data
    finally:
        db.close()


# --- the scans ---------------------------------------------------------------------------------------


def test_sample_inputs_really_hold_the_values_searched_for(published: Published) -> None:
    """The scanner must find what it looks for: the raw inputs themselves are full of hits."""
    scanner = LeakScanner(published.raw_values)
    for path in published.inputs:
        if path.suffix == ".csv":
            scanner.scan("input", path.name, path.read_bytes())
    assert len(scanner.findings) > 500
    assert any("valid 身份证 number" in f for f in scanner.findings)


def test_no_raw_identifier_in_any_file_of_the_deployment(published: Published) -> None:
    scanner = LeakScanner(published.raw_values)
    for path in files_below(published.var):
        scanner.scan("file", str(path.relative_to(published.var)), path.read_bytes())
    site = published.release / "site"
    assert scanner.scanned["file"] > 1_000
    for expected in ("index.html", "sitemap.xml", "feeds/list-changes.atom.xml", "data/yzwfsx.csv",
                     "data/yzwfsx.json"):
        assert (site / expected).is_file(), expected
    assert (published.release / "index.db").is_file() and (published.snapshot / "rejects.csv").is_file()
    assert scanner.findings == [], scanner.report()


def test_no_raw_identifier_in_any_sqlite_column(published: Published) -> None:
    scanner = LeakScanner(published.raw_values)
    databases = list(sqlite_files(published.var))
    assert any(p.name == "index.db" for p in databases)
    for path in databases:
        for location, data in sqlite_cells(path):
            scanner.scan("sqlite", f"{path.relative_to(published.var)}:{location}", data)
    assert scanner.scanned["sqlite"] > 10_000
    assert scanner.findings == [], scanner.report()


def test_no_raw_identifier_in_the_publish_output(published: Published) -> None:
    scanner = LeakScanner(published.raw_values)
    scanner.scan("cli", "portal publish stdout+stderr", published.cli_output)
    assert "已发布".encode() in published.cli_output
    assert scanner.findings == [], scanner.report()


# The test's own HTTP client logs the URLs it requests (the numbers are in them by design): not the server.
CLIENT_SIDE_LOGGERS = {"httpx", "httpcore"}


class RecordingHandler(logging.Handler):
    """Every log record of the process while the API serves (server side: app, access log, uvicorn)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in CLIENT_SIDE_LOGGERS:
            return
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")


def valid_rics(values: set[str]) -> list[str]:
    return sorted(v for v in values if len(v) == 18 and v[:17].isdigit() and is_valid_ric(v))


def test_api_responses_and_logs_never_echo_a_raw_identifier(published: Published, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from search_api.app import create_app
    from search_api.keys import issue_key
    from search_api.settings import Settings

    entries = published.entries()
    numbers = valid_rics(published.raw_values)
    phones_and_passes = sorted(v for v in published.raw_values if not v.isdigit() or len(v) == 11)
    assert len(numbers) > 100
    settings = Settings(index_path=published.release / "index.db", snapshot_dir=published.snapshot,
                        api_keys_db=tmp_path / "keys.sqlite3", access_log=True, rate_search_per_minute=1_000_000,
                        rate_person_per_minute=1_000_000, rate_check_per_minute=1_000_000, rate_burst_factor=1.0)
    api_key = issue_key("泄露测试", db_path=settings.api_keys_db)
    recorder = RecordingHandler()
    loggers = [logging.getLogger(), logging.getLogger("search_api.access"), logging.getLogger("uvicorn.access")]
    previous_levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(recorder)
        logger.setLevel(logging.DEBUG)
    responses: list[tuple[str, bytes]] = []
    lookup_hits = 0
    try:
        with TestClient(create_app(settings)) as client:
            def call(label: str, method: str, url: str, **kwargs: Any) -> Any:
                response = client.request(method, url, **kwargs)
                assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:300]}"
                headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items()).encode()
                responses.append((f"{label} -> {response.status_code}", headers + b"\n\n" + response.content))
                return response

            common = [name for name, _ in Counter(e["subject_name"] for e in entries).most_common(10)]
            for q in [*common, "王", "张伟", "有限公司", "达州", "建筑", "失信"]:
                call(f"search q={q}", "GET", "/api/v1/search", params={"q": q, "per_page": 50})
                call(f"person search q={q}", "GET", "/api/v1/search", params={"q": q, "subject_type": "自然人"})
            for value in [*numbers[:10], *phones_and_passes[:10]]:  # a raw number typed into the search box
                call("search for a raw number", "GET", "/api/v1/search", params={"q": value})
            for entry in entries[::25]:
                call(f"entry {entry['id']}", "GET", f"/api/v1/entries/{entry['id']}")
            for code in sorted({e["uscc"] for e in entries if e.get("uscc")})[::20]:
                call(f"subject {code}", "GET", f"/api/v1/subjects/{code}")
            for number in numbers[:40]:
                body = call("lookup", "POST", "/api/v1/lookup", json={"id_number": number}).json()
                lookup_hits += body.get("total", 0)
                call("lookup with name", "POST", "/api/v1/lookup", json={"id_number": number.lower(), "name": "王伟"})
            for number in numbers[:5]:  # invalid bodies: a validation error must not echo the input either
                call("lookup too long", "POST", "/api/v1/lookup", json={"id_number": number * 2})
                call("lookup extra field", "POST", "/api/v1/lookup", json={"id_number": number, "phone": phones_and_passes[0]})
                call("check bad subject", "POST", "/api/v1/check", headers={"X-API-Key": api_key},
                     json={"subjects": [{"id_number": number, "bank": number}]})
            batch = [{"ref": f"申请-{i:04d}", "id_number": n} for i, n in enumerate(numbers[:200])]
            batch += [{"ref": "phone", "id_number": p} for p in phones_and_passes[:20]]
            check = call("check", "POST", "/api/v1/check", headers={"X-API-Key": api_key}, json={"subjects": batch})
            check_hits = check.json()["with_hits"]
    finally:
        for logger, level in zip(loggers, previous_levels, strict=True):
            logger.removeHandler(recorder)
            logger.setLevel(level)

    # The lookups must really have matched entries, or the echo checks above prove nothing.
    assert lookup_hits > 0 and check_hits > 0
    assert any(" /api/v1/lookup " in line or "/api/v1/lookup" in line for line in recorder.lines), \
        "the access log was not captured"
    scanner = LeakScanner(published.raw_values)
    for label, data in responses:
        scanner.scan("api", label, data)
    scanner.scan("log", "records written while serving", "\n".join(recorder.lines).encode())
    assert scanner.findings == [], scanner.report()
