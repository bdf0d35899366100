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

import csv
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


# --- a department file with identifiers where they are not expected (issue 12) -----------------------

HOSTILE_HEADER = ["主体名称", "主体类别", "统一社会信用代码", "证件类型", "证件号码", "法定代表人", "名单名称", "认定事实",
                  "认定依据", "认定文书号", "认定部门", "认定日期", "所属区域", "住所", "处罚内容", "备注", "状态"]
HOSTILE_TEXT_COLUMNS = ["法定代表人", "认定事实", "认定依据", "认定文书号", "认定部门", "所属区域", "住所", "处罚内容", "备注"]


def hostile_ric(n: int) -> str:
    body = f"5117021985{(n % 12) + 1:02d}{(n % 28) + 1:02d}{n % 1000:03d}"
    return body + ric_check_digit(body)


def hostile_forms(n: int) -> list[tuple[str, str]]:
    """(written form, raw value a scanner must never find) for every hostile format of issue 12."""
    ric = hostile_ric(n + 500)
    card = f"62220212345{n:07d}"
    card += str((10 - sum((int(c) * 2 - 9 if int(c) * 2 > 9 else int(c) * 2) if i % 2 == 0 else int(c)
                          for i, c in enumerate(reversed(card))) % 10) % 10)
    mobile = f"139{n:08d}"
    return [
        (f"{ric[:6]} {ric[6:14]} {ric[14:]}", ric), (f"{ric[:6]}-{ric[6:14]}-{ric[14:]}", ric),
        (".".join(ric[i:i + 4] for i in range(0, 18, 4)), ric), (f"ID{ric}", ric),
        (" ".join(card[i:i + 4] for i in range(0, len(card), 4)), card),
        (f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}", mobile), (f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}", mobile),
        (f"+86{mobile}", mobile), (f"0818-{2000000 + n}", f"0818{2000000 + n}"),
        (f"港澳通行证H{10000000 + n}", f"H{10000000 + n}"), (f"台胞证7316{n:04d}", f"7316{n:04d}"),
        (f"护照E{30000000 + n}", f"E{30000000 + n}"), (f"zhang{n}@example.com", f"zhang{n}@example.com"),
    ]


def write_hostile_file(path: Path, rows: int = 30) -> set[str]:
    """Organisations and persons whose every text field carries an identifier; returns the raw values."""
    from stdnum.cn import uscc as stdnum_uscc

    raw: set[str] = set()
    lines = [HOSTILE_HEADER]
    for n in range(rows):
        forms = hostile_forms(n)
        raw.update(value for _, value in forms)
        person = n % 2 == 1
        cells = dict.fromkeys(HOSTILE_HEADER, "")
        written, _ = forms[n % len(forms)]
        if person:
            number = hostile_ric(n)
            raw.add(number)
            cells.update({"主体名称": f"张{'三四五六七'[n % 5]}{written}", "主体类别": "自然人", "证件类型": "居民身份证",
                          "证件号码": number, "名单名称": "失信被执行人名单"})
        else:
            body = f"91511700MA6H{n:05d}"
            cells.update({"主体名称": f"达州恶意测试{n}有限公司{written}", "主体类别": "法人及非法人组织",
                          "统一社会信用代码": body + stdnum_uscc.calc_check_digit(body), "名单名称": "严重违法失信企业名单"})
        cells["认定日期"] = "2026-09-01"
        for index, column in enumerate(HOSTILE_TEXT_COLUMNS):
            cells[column] = f"见{forms[(n + index) % len(forms)][0]}"
        lines.append([cells[column] for column in HOSTILE_HEADER])
    # A shifted row: an ID number where 状态 belongs; rejects.csv must not quote it.
    shifted = dict.fromkeys(HOSTILE_HEADER, "")
    number = hostile_ric(999)
    raw.add(number)
    shifted.update({"主体名称": "错位行", "主体类别": "自然人", "证件号码": hostile_ric(998), "名单名称": "失信被执行人名单",
                    "认定日期": "2026-09-01", "状态": number})
    raw.add(hostile_ric(998))
    lines.append([shifted[column] for column in HOSTILE_HEADER])
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(lines)
    return raw


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    work = tmp_path_factory.mktemp("leaks")
    sample = run_cli("sample", "--out", str(work / "inbox"), "--rows", str(SAMPLE_ROWS), "--as-of", AS_OF, cwd=work)
    assert sample.returncode == 0, sample.stderr.decode()
    hostile_raw = write_hostile_file(work / "inbox" / "hostile-identifiers.csv")
    inputs = sorted(p for p in (work / "inbox").iterdir() if p.suffix in (".csv", ".xlsx"))
    result = run_cli("publish", *map(str, inputs), "--var", str(work / "var"), "--as-of", AS_OF, cwd=work)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    raw = sensitive_values(inputs) | hostile_raw
    assert len(raw) > 1_000, "the sample should hold well over a thousand raw identifiers"
    return Published(inputs, work / "var", result.stdout + result.stderr, raw)


def test_hostile_file_rows_were_published(published: Published) -> None:
    """The hostile rows are public (masked), not rejected: otherwise the scans below would prove nothing."""
    names = [e["subject_name"] for e in published.entries()]
    assert sum("达州恶意测试" in name for name in names) == 15
    assert sum(name.startswith(("张三", "张四", "张五", "张六", "张七")) and "*" in name for name in names) >= 15


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


# --- after online applications exist (portal/applications) --------------------------------------------


def test_published_tree_holds_nothing_of_the_applications(published: Published, tmp_path: Path) -> None:
    """Applicants type raw ID numbers and phones and upload documents full of them; the operator accepts
    objections and a repair; the portal publishes again. Nothing of it may reach the published tree, and the
    private store keeps no raw ID number either (digest and masked form only; attachments aside)."""
    import shutil

    from fastapi.testclient import TestClient

    from portal.applications import decide
    from portal.applications.app import create_app
    from portal.applications.settings import Settings as ApplySettings
    from portal.release.publish import Layout

    var = tmp_path / "var"
    shutil.copytree(published.var, var, symlinks=True)
    numbers = valid_rics(published.raw_values)
    phones = sorted(v for v in published.raw_values if v.isdigit() and len(v) == 11)
    entries = [e for e in published.entries() if e["status"] == "已公布"]
    orgs = [e for e in entries if not e["is_person"] and e.get("uscc")]
    persons = [e for e in entries if e["is_person"]]
    assert len(numbers) >= 20 and len(phones) >= 20 and len(orgs) >= 10 and len(persons) >= 10
    settings = ApplySettings(var_dir=var, pow_bits=0, access_log=False, trust_forwarded_for=True)
    app = create_app(settings)
    receipts = []
    with TestClient(app) as client:
        for i in range(20):
            person = i % 2 == 1
            entry = persons[i] if person else orgs[i]
            token = client.get("/apply/v1/challenge").json()["token"]
            evidence = f"%PDF-1.4\n身份证号 {numbers[i]} 电话 {phones[i]}\n%%EOF\n".encode()
            response = client.post("/apply/v1/applications", headers={"X-Forwarded-For": f"10.0.0.{i}"}, data={
                "kind": "objection", "entry_id": entry["id"], "applicant_type": "person" if person else "unit",
                "applicant_name": entry["subject_name"], "applicant_code": numbers[i] if person else entry["uscc"],
                "contact_name": "申请联系人", "contact_phone": phones[i], "grounds": f"信息有误，本人证件号 {numbers[i]}。",
                "consent": "yes", "challenge_token": token, "challenge_nonce": "0",
            }, files=[("attachments", ("证明.pdf", evidence, "application/pdf"))])
            assert response.status_code == 201, response.text
            receipts.append(response.json()["receipt"])
    store = app.state.applications.store
    layout = Layout(var)
    today = date.fromisoformat(AS_OF)
    for receipt in receipts[:6]:
        decide.accept(store, layout, receipt, actor="泄露测试", on=today)
    decide.resolve(store, layout, receipts[0], "corrected", actor="泄露测试", on=today)
    store.close()
    result = run_cli("publish", *map(str, published.inputs), "--var", str(var), "--as-of", AS_OF, cwd=tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()

    scanner = LeakScanner(published.raw_values)
    private = var / "applications"
    public_files = [p for p in files_below(var) if private not in p.parents]
    for path in public_files:
        scanner.scan("file", str(path.relative_to(var)), path.read_bytes())
    for path in sqlite_files(var):
        if private not in path.parents:
            for location, data in sqlite_cells(path):
                scanner.scan("sqlite", f"{path.relative_to(var)}:{location}", data)
    scanner.scan("cli", "second publish", result.stdout + result.stderr)
    assert scanner.scanned["file"] > 1_000
    assert scanner.findings == [], scanner.report()

    # The store itself: raw ID numbers only inside the attachment files the applicants uploaded (the ID field
    # is kept as digest and masked form, free text is scrubbed by portal.ingest.masking like everything else).
    id_scanner = LeakScanner(set(numbers[:20]))
    for path in files_below(private):
        if path.parent.name != "attachments":
            id_scanner.scan("store", path.name, path.read_bytes())
    for location, data in sqlite_cells(private / "applications.db"):
        id_scanner.scan("store", location, data)
    assert id_scanner.scanned["store"] > 100
    assert id_scanner.findings == [], id_scanner.report()
    attachments = list((private / "attachments").iterdir())
    assert len(attachments) == 20 and any(numbers[0].encode() in p.read_bytes() for p in attachments)
# --- persons cannot be harvested (issue 12) ----------------------------------------------------------------


def person_markers(entry: dict[str, Any]) -> list[str]:
    """What would identify a person on a page: the name, the masked number, the id, the facts."""
    return [value for value in (entry["subject_name"], entry.get("id_number"), entry["id"], entry.get("facts"),
                                entry.get("decision_no")) if value and len(value) >= 2]


def test_the_static_site_gives_away_no_person(published: Published) -> None:
    """Fetching every person's /entries/<id>/ page — as the reported scraper did, 889 pages in 20 s — yields
    one shell page, the same bytes for all of them, holding nothing of any person; and no other file of the
    site (lists, feeds, sitemap, downloads, search index of the site) holds a person either."""
    site = published.release / "site"
    entries = published.entries()
    persons = [e for e in entries if e["is_person"]]
    assert len(persons) > 50
    pages = {(site / "entries" / p["id"] / "index.html").read_bytes() for p in persons}
    assert len(pages) == 1, "persons' pages differ: they carry data"
    shell = pages.pop().decode("utf-8")
    for person in persons:
        for marker in person_markers(person):
            assert marker not in shell, f"{marker!r} of a person is on the shell page"
    # Names that are also an organisation's or a legal representative's (published by rule) do not count.
    names = {p["subject_name"] for p in persons if len(p["subject_name"]) >= 3} - {
        value for e in entries if not e["is_person"] for value in (e["subject_name"], e.get("legal_rep")) if value}
    ids = {p["id"] for p in persons}
    for path in site.rglob("*"):
        if not path.is_file() or path.is_relative_to(site / "entries"):
            continue
        data = path.read_bytes()
        text = data.decode("utf-8", errors="ignore")
        leaked = [i for i in ids if i in text] + [n for n in names if n in text]
        assert not leaked, f"{path.relative_to(site)} names persons: {leaked[:5]}"
    # Withdrawn persons' pages are tombstones without personal data.
    tombstones = [orjson.loads(line) for line in (published.snapshot / "withdrawn.jsonl").read_bytes().splitlines()
                  if line]
    for tomb in [t for t in tombstones if t["is_person"]][:200]:
        page = (site / "entries" / tomb["id"] / "index.html").read_text(encoding="utf-8")
        assert "该信息已不再公示" in page and "noindex" in page


def test_persons_read_per_hour_stay_within_the_documented_bound(published: Published, tmp_path: Path) -> None:
    """One client, one virtual hour, every path that could show a person: the site's pages (nothing, above),
    the public change feed and the downloads (no person), searches (every common surname, paged), every
    person's /entries, /subjects for every organisation and /lookup with real ID numbers. Persons seen are
    counted by entry id and must stay within (bucket + rate x elapsed) x MAX_PER_PAGE at every moment."""
    from fastapi.testclient import TestClient

    from search_api.app import create_app
    from search_api.settings import MAX_PER_PAGE, Settings

    person_rate, burst = 2, 1.0
    settings = Settings(index_path=published.release / "index.db", snapshot_dir=published.snapshot,
                        api_keys_db=tmp_path / "keys.sqlite3", access_log=False, rate_search_per_minute=60,
                        rate_person_per_minute=person_rate, rate_burst_factor=burst)
    clock = [0.0]
    today = date.fromisoformat(AS_OF)
    client = TestClient(create_app(settings, today=lambda: today, clock=lambda: clock[0]), client=("203.0.113.9", 1))
    entries = published.entries()
    persons = {e["id"] for e in entries if e["is_person"]}

    def bound(seconds: float) -> float:
        return (max(1.0, person_rate * burst) + person_rate / 60 * seconds) * MAX_PER_PAGE

    surnames = [name for name, _ in Counter(e["subject_name"][0] for e in entries if e["is_person"]).most_common(8)]
    plan: list[tuple[str, str, dict[str, Any]]] = []
    plan += [("GET", "/api/v1/changes", {"params": {"limit": 1000}})]
    plan += [("GET", "/api/v1/search", {"params": {"q": s, "page": page, "per_page": MAX_PER_PAGE}})
             for s in surnames for page in (1, 2)]
    plan += [("GET", f"/api/v1/entries/{i}", {}) for i in sorted(persons)[:100]]
    plan += [("GET", f"/api/v1/subjects/{code}", {}) for code in sorted({e["uscc"] for e in entries if e["uscc"]})[:100]]
    plan += [("POST", "/api/v1/lookup", {"json": {"id_number": n}}) for n in valid_rics(published.raw_values)[:100]]
    seen: dict[str, float] = {}
    answered: Counter[str] = Counter()
    queue = list(plan)
    while queue and clock[0] <= 3600:
        method, url, arguments = queue[0]
        response = client.request(method, url, **arguments)
        if response.status_code == 429:
            clock[0] += int(response.headers["retry-after"])
            continue
        queue.pop(0)
        answered[url.split("/")[3]] += 1
        body = response.json() if response.status_code == 200 else {}
        shown = body.get("hits") or body.get("changes") or ([body] if "subject_name" in body else [])
        for group in (body.get("groups") or {}).values():
            shown += group
        for item in shown:
            if item.get("id") in persons:
                if url.endswith("/changes"):
                    pytest.fail(f"the public change feed lists person {item['id']}")
                seen.setdefault(item["id"], clock[0])
        assert len(seen) <= bound(clock[0]), (len(seen), clock[0])
    assert answered["lookup"] and answered["entries"] and answered["subjects"] and answered["search"]
    assert seen, "the attack must have reached persons, or the bound is not measured"
    # Downloads hold no person at all (the site test above reads them too).
    for download in (published.release / "site" / "data").glob("*.*"):
        text = download.read_text(encoding="utf-8", errors="ignore")
        assert not any(i in text for i in persons), download.name
