"""Property test of the privacy boundary (issue 12): generated identifiers in every hostile format, in every
field of a CSV and an XLSX file, never reach a file under the deployment directory, an API response or a
log line.

Each example writes one department file (CSV or XLSX) with an organisation row and a person row whose every
text field carries an identifier (``tests/identifier_formats.py``), and a shifted row that puts one into the
columns that are parsed or looked up (认定日期, 主体类别, 名单名称, 状态) and is rejected. The real ingest
(``portal.ingest.pipeline.run_ingest``), the real SQLite index and the real API (TestClient) run on it; then every
byte written below the work directory, every response and every log record is searched for the written
forms of the identifiers.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from identifier_formats import Ident, any_identifier, resident_id, surrounding
from openpyxl import Workbook
from stdnum.cn import uscc as stdnum_uscc

from portal.ingest.pipeline import run_ingest
from portal.ingest.worker import SourceSpec
from portal.public.digest import Digester

pytestmark = pytest.mark.slow

AS_OF = date(2026, 11, 23)
KEY = b"property-test-hmac-key-0123456789abcdef"
HEADER = ["主体名称", "主体类别", "统一社会信用代码", "证件类型", "证件号码", "法定代表人", "法定代表人证件号码", "名单名称",
          "认定事实", "认定依据", "认定文书号", "认定部门", "认定日期", "所属区域", "住所", "联系电话", "状态",
          "处罚内容", "备注", "数据来源单位", "处罚机关统一社会信用代码"]
TEXT_COLUMNS = ["主体名称", "法定代表人", "认定事实", "认定依据", "认定文书号", "认定部门", "所属区域", "住所", "处罚内容",
                "备注", "数据来源单位", "处罚机关统一社会信用代码"]
PARSED_COLUMNS = ["认定日期", "主体类别", "名单名称", "状态"]


def uscc(n: int) -> str:
    body = f"91511700MA62{n:05d}"
    return body + stdnum_uscc.calc_check_digit(body)


@st.composite
def department_file(draw: st.DrawFn) -> tuple[list[list[str]], list[Ident]]:
    """Rows (header first) and every identifier written into them."""
    idents: list[Ident] = []

    def hostile(prefix: str) -> str:
        ident = draw(any_identifier)
        idents.append(ident)
        return prefix + draw(surrounding) + ident.text + draw(surrounding)

    person_id, rep_id = draw(resident_id()), draw(resident_id())
    idents += [person_id, rep_id]
    organisation = {"主体名称": "达州测试建材有限公司", "主体类别": "法人及非法人组织", "统一社会信用代码": uscc(1),
                    "法定代表人证件号码": rep_id.compact, "名单名称": "严重违法失信企业名单", "认定日期": "2026-09-01"}
    person = {"主体名称": "张三", "主体类别": "自然人", "证件类型": "居民身份证", "证件号码": person_id.compact,
              "名单名称": "失信被执行人名单", "认定日期": "2026-09-02"}
    for row in (organisation, person):
        for column in TEXT_COLUMNS:
            row[column] = hostile(row.get(column, "") if column == "主体名称" else "")
        row["联系电话"] = draw(any_identifier).text
    shifted = {"主体名称": "李四", "主体类别": "自然人", "证件号码": draw(resident_id()).compact, "名单名称": "失信被执行人名单",
               "认定日期": "2026-09-03"}
    idents.append(Ident("resident_id", shifted["证件号码"], shifted["证件号码"]))
    shifted[draw(st.sampled_from(PARSED_COLUMNS))] = hostile("")
    rows = [HEADER] + [[row.get(column, "") for column in HEADER] for row in (organisation, person, shifted)]
    return rows, idents


def write_file(rows: list[list[str]], path: Path) -> Path:
    if path.suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows)
    else:
        workbook = Workbook()
        for row in rows:
            workbook.active.append(row)
        workbook.save(path)
    return path


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] not in ("httpx", "httpcore"):  # the test client's own URLs
            self.lines.append(f"{record.name} {record.getMessage()}")


def serve_and_ask(work: Path, entries_dir: Path) -> tuple[list[bytes], list[str]]:
    """API answers for everything a visitor or a scraper could ask of this snapshot, and the log lines."""
    import orjson
    from fastapi.testclient import TestClient

    from search_api.app import create_app
    from search_api.indexer import build_index
    from search_api.settings import Settings

    build_index(entries_dir, work / "index.sqlite3")
    settings = Settings(index_path=work / "index.sqlite3", snapshot_dir=entries_dir, hmac_key=KEY.decode(),
                        api_keys_db=work / "keys.sqlite3", access_log=True, rate_search_per_minute=100_000,
                        rate_person_per_minute=100_000, rate_burst_factor=1.0)
    recorder = Recorder()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    answers: list[bytes] = []
    try:
        with TestClient(create_app(settings, today=lambda: AS_OF)) as client:
            entries = [orjson.loads(line) for line in (entries_dir / "entries.jsonl").read_bytes().splitlines()]
            assert len(entries) == 2, "the organisation and the person rows must be published"
            requests: list[tuple[str, str, dict[str, Any]]] = [
                ("GET", "/api/v1/search", {"params": {"q": "达州测试"}}),
                ("GET", "/api/v1/search", {"params": {"q": "张三", "subject_type": "自然人"}}),
                ("GET", "/api/v1/search", {"params": {"q": "有限公司"}}),
                ("GET", f"/api/v1/subjects/{uscc(1)}", {}),
                ("GET", "/api/v1/changes", {}),
                ("GET", "/api/v1/stats", {}),
            ]
            requests += [("GET", f"/api/v1/entries/{e['id']}", {}) for e in entries]
            for method, url, arguments in requests:
                response = client.request(method, url, **arguments)
                assert response.status_code == 200, (url, response.text[:300])
                answers.append(response.content)
    finally:
        root.removeHandler(recorder)
        root.setLevel(old_level)
    return answers, recorder.lines


def leaks(idents: list[Ident], artefacts: dict[str, bytes]) -> list[str]:
    found = []
    for ident in idents:
        for needle in ident.needles:
            for form in {needle, needle.lower(), needle.upper()}:
                encoded = form.encode()
                for name, data in artefacts.items():
                    if encoded in data:
                        found.append(f"{ident.kind} {form!r} in {name}")
    return found


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=department_file(), suffix=st.sampled_from([".csv", ".xlsx"]))
def test_no_identifier_reaches_any_artefact(data: tuple[list[list[str]], list[Ident]], suffix: str) -> None:
    rows, idents = data
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "inbox").mkdir()
        source = write_file(rows, work / "inbox" / f"报送{suffix}")
        result = run_ingest([SourceSpec(str(source))], work / "var" / "snapshots", as_of=AS_OF, key=KEY, workers=1)
        manifest = result.manifest
        assert manifest["counts"]["rows_read"] == 3 and manifest["counts"]["rejected"] == 1
        answers, log_lines = serve_and_ask(work / "var", result.version_dir)
        artefacts = {str(path.relative_to(work)): path.read_bytes()
                     for path in sorted((work / "var").rglob("*")) if path.is_file()}
        artefacts.update({f"API answer {n}": body for n, body in enumerate(answers)})
        artefacts["log lines"] = "\n".join(log_lines).encode()
        assert any("access" in line for line in log_lines), "the access log was not captured"
        assert any(name.endswith("rejects.csv") for name in artefacts)
        found = leaks(idents, artefacts)
        assert found == [], "\n".join(found)
        # The rows did carry the identifiers into ingest: the digest of the person's number is in the index.
        digest = Digester(KEY).digest(rows[2][HEADER.index("证件号码")])
        assert digest.encode() in artefacts["var/index.sqlite3"]
