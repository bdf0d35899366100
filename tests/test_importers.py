"""Source readers on real files, real SQLite, a real PostgreSQL server and a real (refused) Oracle connection."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import sqlite3
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import oracledb
import pytest
import sqlalchemy as sa
from oracledb import errors as oracle_errors

from portal.ingest.headers import map_headers, require_columns
from portal.ingest.importers import SourceError, detect_format, explain_oracle_error, open_source, xlsx_reader

pytest_plugins = ["pg"]

FIXTURES = Path(__file__).parent / "fixtures" / "importers"

HEADER = ["主体名称", "主体类别", "统一社会信用代码", "认定日期", "名单名称"]
ROWS = [
    ["达州市堃源建筑工程有限公司", "法人及非法人组织", "91511700MA62A0XB2T", "2024-03-05", "严重违法失信企业名单"],
    ["王㛃", "自然人", "", "2024年3月5日", "失信被执行人名单"],
]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    text = "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


def rows_of(path: Path | str, **kwargs: str) -> list[tuple[int, list[str | None]]]:
    return list(open_source(path, **kwargs).rows())


# --- CSV -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "detected"), [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("utf-16", "utf-16"),
])
def test_csv_encodings_detected_from_bytes(tmp_path: Path, encoding: str, detected: str) -> None:
    path = write_csv(tmp_path / "名单.txt", [HEADER, *ROWS], encoding)
    table = open_source(path)
    assert table.kind == "csv"
    assert table.encoding == detected
    assert table.headers == HEADER
    assert table.header_row == 1
    assert list(table.rows()) == [
        (2, ROWS[0]),
        (3, ["王㛃", "自然人", None, "2024年3月5日", "失信被执行人名单"]),
    ]
    assert table.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_gbk_file_decodes_as_gb18030(tmp_path: Path) -> None:
    # 堃 is in GBK; Excel "CSV (逗号分隔)" on a Chinese Windows writes GBK (cp936).
    path = write_csv(tmp_path / "gbk.csv", [HEADER, ROWS[0]], "gbk")
    table = open_source(path)
    assert table.encoding == "gb18030"
    assert list(table.rows())[0][1][0] == "达州市堃源建筑工程有限公司"


def test_encoding_found_after_a_long_ascii_prefix(tmp_path: Path) -> None:
    ascii_rows = [["name", "code"]] + [[f"company {i}", f"{i:018d}"] for i in range(60_000)]
    path = write_csv(tmp_path / "late.csv", [*ascii_rows, ["王㛃", "x"]], "gb18030")
    assert path.stat().st_size > 1024 * 1024  # the non-ASCII bytes are beyond the first sample
    table = open_source(path)
    assert table.encoding == "gb18030"
    assert list(table.rows())[-1] == (60_002, ["王㛃", "x"])


@pytest.mark.parametrize("good_rows", [1, 5000])
def test_mixed_encodings_refused_with_line_number(tmp_path: Path, good_rows: int) -> None:
    path = tmp_path / "mixed.csv"
    utf8_part = "\r\n".join(",".join(r) for r in [HEADER, *[ROWS[0]] * good_rows]) + "\r\n"
    path.write_bytes(utf8_part.encode("utf-8") + "王㛃,自然人,,2024-03-05,失信被执行人名单\r\n".encode("gb18030"))
    with pytest.raises(SourceError) as caught:
        list(open_source(path).rows())  # small file: refused at open; large file: while streaming
    assert f"第 {good_rows + 2} 行" in caught.value.message_zh


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_delimiter_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = write_csv(tmp_path / "d.csv", [HEADER, ROWS[0]], delimiter=delimiter)
    table = open_source(path)
    assert table.headers == HEADER
    assert list(table.rows()) == [(2, ROWS[0])]


def test_csv_title_row_blank_lines_quotes_and_row_numbers(tmp_path: Path) -> None:
    text = (
        "2024年第一季度严重违法失信企业名单,,,,\r\n"
        ",,,,\r\n"
        + ",".join(HEADER) + "\r\n"
        + '甲公司,法人及非法人组织,91511700MA62A0XB2T,2024-03-05,"严重违法失信企业名单"\r\n'
        "\r\n"
        '"多行,单位",法人及非法人组织,,2024-03-06,"第一行\r\n第二行"\r\n'
        ",,,,\r\n"
        "丙,自然人,,2024-03-07,失信被执行人名单\r\n"
    )
    path = tmp_path / "title.csv"
    path.write_text(text, encoding="utf-8")
    table = open_source(path)
    assert table.header_row == 3
    assert table.headers == HEADER
    rows = list(table.rows())
    # line numbers as a text editor shows them: a record starts on its first physical line
    assert [number for number, _ in rows] == [4, 6, 9]
    assert rows[1][1][0] == "多行,单位"
    assert rows[1][1][4] == "第一行\r\n第二行"


def test_short_rows_padded_long_rows_keep_extra_cells(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ragged.csv", [HEADER, ["甲", "自然人"], [*ROWS[0], "多出来的", ""]])
    rows = rows_of(path)
    assert rows[0] == (2, ["甲", "自然人", None, None, None])
    assert rows[1] == (3, [*ROWS[0], "多出来的", None])
    assert len(rows[1][1]) > len(HEADER)


def test_nul_bytes_do_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(",".join(HEADER).encode() + b"\r\n" + "甲\x00公司,自然人,,2024-03-05,x\x00\r\n".encode()
                     + b"\x00\x00\x00\r\n")
    rows = rows_of(path)
    assert rows == [(2, ["甲公司", "自然人", None, "2024-03-05", "x"])]


def test_ten_megabyte_field(tmp_path: Path) -> None:
    facts = "违法" * (5 * 1024 * 1024)  # 10 M characters, 30 MB in UTF-8
    path = write_csv(tmp_path / "big.csv", [["主体名称", "认定事实"], ["甲", facts], ["乙", "短"]])
    rows = rows_of(path)
    assert len(rows[0][1][1] or "") == len(facts)
    assert rows[1] == (3, ["乙", "短"])


def test_unclosed_quote_does_not_hang(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text(",".join(HEADER) + '\n甲,"自然人,,2024-03-05,x\n乙,自然人,,2024-03-05,x\n', encoding="utf-8")
    rows = rows_of(path)
    # The rest of the file is one quoted cell: one row, which the validator rejects (no 认定日期).
    assert len(rows) == 1
    assert rows[0][1][2] is None


def test_thousand_columns_and_duplicate_headers(tmp_path: Path) -> None:
    headers = [*HEADER, "主体名称", *[f"列{i}" for i in range(995)]]
    assert len(headers) == 1001
    values = [f"v{i}" for i in range(len(headers))]
    path = write_csv(tmp_path / "wide.csv", [headers, values])
    table = open_source(path)
    assert table.headers == headers
    assert list(table.rows()) == [(2, values)]
    mapping = map_headers(table.headers)
    assert mapping.duplicates == ["主体名称"]
    assert len(mapping.unknown) == 995


@pytest.mark.parametrize("content", [b"", b"   \r\n\r\n", b"\xef\xbb\xbf", b",,,\r\n,,\r\n"])
def test_empty_files_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert "empty.csv" in caught.value.message_zh
    assert ("空" in caught.value.message_zh) or ("表头" in caught.value.message_zh)


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", [HEADER])
    table = open_source(path)
    assert table.headers == HEADER
    assert list(table.rows()) == []


def test_csv_rows_are_streamed(tmp_path: Path) -> None:
    line = ",".join(ROWS[0]) + "\r\n"
    path = tmp_path / "many.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(HEADER) + "\r\n")
        for _ in range(30_000):
            handle.write(line)
    assert path.stat().st_size > 3 * 1024 * 1024
    table = open_source(path)
    tracemalloc.start()
    count = 0
    number = 0
    for number, values in table.rows():  # noqa: B007 (number is checked after the loop)
        count += 1
        assert len(values) == len(HEADER)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 30_000 and number == 30_001
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes: rows are not streamed"


# --- XLSX ----------------------------------------------------------------------------------------------


def build_department_workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "说明"
    sheet["A1"] = "本工作簿第二页为数据"
    data = workbook.create_sheet("名单")
    data["A1"] = "2024年第一季度严重违法失信企业名单"
    data.merge_cells("A1:F1")
    data.append([])  # row 2 blank
    data.append(["主体名称", "主体类别", "证件号码", "认定日期", "罚款金额（万元）", "名单名称"])  # row 3
    data.append(["王㛃", "自然人", 110101199001011234, dt.datetime(2024, 3, 5), 12.0, "失信被执行人名单"])
    data.append([])  # row 5 blank
    data.append(["甲公司", "法人及非法人组织", "91511700MA62A0XB2T", dt.date(2024, 1, 2), 0.35, "严重违法失信企业名单"])
    data.append(["乙公司", "法人及非法人组织", None, dt.datetime(2024, 1, 2, 9, 30), 3, None, "多出的单元格"])
    data["D4"].number_format = "yyyy-mm-dd"
    workbook.save(path)
    return path


def test_xlsx_title_row_merged_cells_dates_numbers(tmp_path: Path) -> None:
    path = build_department_workbook(tmp_path / "名单.xlsx")
    table = open_source(path, sheet="名单")
    assert table.kind == "xlsx"
    assert table.encoding is None
    assert table.header_row == 3
    assert table.headers == ["主体名称", "主体类别", "证件号码", "认定日期", "罚款金额（万元）", "名单名称"]
    assert list(table.rows()) == [
        # the ID typed as a number: the 15 digits Excel holds, which the validator will reject
        (4, ["王㛃", "自然人", "110101199001011000", "2024-03-05", "12", "失信被执行人名单"]),
        (6, ["甲公司", "法人及非法人组织", "91511700MA62A0XB2T", "2024-01-02", "0.35", "严重违法失信企业名单"]),
        (7, ["乙公司", "法人及非法人组织", None, "2024-01-02 09:30:00", "3", None, "多出的单元格"]),
    ]
    assert table.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_xlsx_first_sheet_and_missing_sheet(tmp_path: Path) -> None:
    path = build_department_workbook(tmp_path / "wb.xlsx")
    first = open_source(path)
    assert first.headers == ["本工作簿第二页为数据"]
    with pytest.raises(SourceError) as caught:
        open_source(path, sheet="不存在")
    assert "不存在" in caught.value.message_zh and "名单" in caught.value.message_zh


def test_xlsx_misnamed_as_csv_is_read_as_workbook(tmp_path: Path) -> None:
    path = build_department_workbook(tmp_path / "wb.xlsx")
    renamed = path.rename(tmp_path / "export.csv")
    assert detect_format(renamed) == "xlsx"
    assert open_source(renamed, sheet="名单").header_row == 3


def test_truncated_xlsx_refused(tmp_path: Path) -> None:
    path = build_department_workbook(tmp_path / "full.xlsx")
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SourceError) as caught:
        open_source(truncated)
    assert "截断" in caught.value.message_zh


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "损坏"),
    ("主体名称,主体类别\n".encode(), "损坏"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), ".xls"),
])
def test_non_workbooks_named_xlsx_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert expected in caught.value.message_zh


def test_zip_without_workbook_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert "xl/workbook.xml" in caught.value.message_zh


def test_zip_bomb_refused_before_decompression(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = bytes(1024 * 1024)
            for _ in range(32):
                member.write(chunk)
    assert path.stat().st_size < 200 * 1024
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert "压缩炸弹" in caught.value.message_zh


def test_declared_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = build_department_workbook(tmp_path / "wb.xlsx")
    monkeypatch.setattr(xlsx_reader, "MAX_XLSX_UNCOMPRESSED_BYTES", 1024)
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert "超过上限" in caught.value.message_zh


# --- JSON / JSON Lines ---------------------------------------------------------------------------------


def test_json_array_and_data_wrapper(tmp_path: Path) -> None:
    records = [
        {"subject_name": "甲公司", "subject_type": "法人及非法人组织", "fine": 12.0, "ok": True},
        {"subject_name": "王㛃", "extra": {"a": 1}, "fine": 0.5, "decision_date": None},
    ]
    for name, document in (("a.json", records), ("b.json", {"total": 2, "data": records})):
        path = tmp_path / name
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        table = open_source(path)
        assert table.kind == "json"
        assert table.header_row == 0
        assert table.headers == ["subject_name", "subject_type", "fine", "ok", "extra", "decision_date"]
        assert list(table.rows()) == [
            (1, ["甲公司", "法人及非法人组织", "12", "true", None, None]),
            (2, ["王㛃", None, "0.5", None, '{"a":1}', None]),
        ]


def test_jsonl_late_keys_are_delivered(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    lines = [json.dumps({"主体名称": f"企业{i}", "主体类别": "法人及非法人组织"}, ensure_ascii=False) for i in range(500)]
    lines.insert(3, "")
    lines.append(json.dumps({"主体名称": "王㛃", "证件号码": "110101199001011237"}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    table = open_source(path)
    assert table.kind == "jsonl"
    assert table.headers == ["主体名称", "主体类别", "证件号码"]
    rows = list(table.rows())
    assert rows[0] == (1, ["企业0", "法人及非法人组织", None])
    assert rows[3] == (5, ["企业3", "法人及非法人组织", None])  # line numbers, blank line counted
    assert rows[-1] == (502, ["王㛃", None, "110101199001011237"])


def test_jsonl_detected_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "export.dat"
    path.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    assert detect_format(path) == "jsonl"
    assert rows_of(path) == [(1, ["1"]), (2, ["2"])]


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("bad.jsonl", '{"a": 1}\n{"a": \n', "第 2 行"),
    ("bad.jsonl", '{"a": 1}\n[1, 2]\n', "第 2 行"),
    ("bad.json", '{"a": 1', "不是有效的 JSON"),
    ("bad.json", '{"total": 3}', "结构无法识别"),
    ("bad.json", '[{"a": 1}, 5]', "第 2 条"),
    ("empty.json", "[]", "表头"),
])
def test_bad_json_refused(tmp_path: Path, name: str, content: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        list(open_source(path).rows())
    assert expected in caught.value.message_zh


# --- SQL: SQLite and PostgreSQL ------------------------------------------------------------------------


def make_sqlite(path: Path) -> str:
    connection = sqlite3.connect(path)
    connection.execute('CREATE TABLE "信用 名单" (主体名称 TEXT, 主体类别 TEXT, 认定日期 TEXT, 罚款 REAL, 序号 INTEGER)')
    connection.executemany('INSERT INTO "信用 名单" VALUES (?, ?, ?, ?, ?)', [
        ("甲公司", "法人及非法人组织", "2024-03-05", 12.0, 1),
        ("王㛃", "自然人", "2024-03-06 12:30", 0.25, 2),
        ("丙", None, None, None, 3),
    ])
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def test_sqlite_table_and_query(tmp_path: Path) -> None:
    url = make_sqlite(tmp_path / "dept.db")
    table = open_source(url, table="信用 名单")
    assert table.kind == "sql"
    assert table.name == url
    assert table.header_row == 0
    assert table.headers == ["主体名称", "主体类别", "认定日期", "罚款", "序号"]
    assert list(table.rows()) == [
        (1, ["甲公司", "法人及非法人组织", "2024-03-05", "12", "1"]),
        (2, ["王㛃", "自然人", "2024-03-06 12:30", "0.25", "2"]),
        (3, ["丙", None, None, None, "3"]),
    ]
    query = 'SELECT 主体名称 AS name, 认定日期 FROM "信用 名单" WHERE 认定日期 < \'2024-03-06 12:31\' ORDER BY 序号'
    by_query = open_source(url, query=query)
    assert by_query.headers == ["name", "认定日期"]
    assert [values for _, values in by_query.rows()] == [["甲公司", "2024-03-05"], ["王㛃", "2024-03-06 12:30"]]
    assert by_query.sha256 == hashlib.sha256(f"{url}\n{query}".encode()).hexdigest()
    assert by_query.sha256 != table.sha256


def test_sqlite_missing_table_and_bad_query(tmp_path: Path) -> None:
    url = make_sqlite(tmp_path / "dept.db")
    with pytest.raises(SourceError) as caught:
        open_source(url, table="名单")
    assert "信用 名单" in caught.value.message_zh
    with pytest.raises(SourceError) as caught:
        open_source(url, query="SELECT nope FROM nowhere")
    assert "nowhere" in caught.value.message_zh
    with pytest.raises(SourceError):
        open_source(url)  # neither table nor query


@pytest.mark.postgres
def test_postgresql_table_and_query_streamed(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text('DROP TABLE IF EXISTS dept."Credit List"'))
        connection.execute(sa.text("CREATE SCHEMA IF NOT EXISTS dept"))
        connection.execute(sa.text(
            'CREATE TABLE dept."Credit List" (id int, 主体名称 text, 认定日期 date, 罚款 numeric(12, 2), '
            "记录时间 timestamp)"))
        connection.execute(sa.text(
            'INSERT INTO dept."Credit List" SELECT g, \'企业\' || g, DATE \'2024-01-01\' + g, g * 1.5, '
            "TIMESTAMP '2024-01-01 08:00' + g * INTERVAL '1 hour' FROM generate_series(1, 5000) g"))
    engine.dispose()

    table = open_source(postgres_url, table="dept.Credit List")
    assert "portal-test-pw" not in table.name
    assert table.name.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert table.headers == ["id", "主体名称", "认定日期", "罚款", "记录时间"]
    rows = list(table.rows())
    assert len(rows) == 5000
    first = sorted(rows, key=lambda r: int(r[1][0] or 0))[0][1]
    assert first == ["1", "企业1", "2024-01-02", "1.50", "2024-01-01 09:00:00"]

    query = "SELECT id, 认定日期::text AS d, '12:30' AS t FROM dept.\"Credit List\" WHERE id <= 3 ORDER BY id"
    by_query = open_source(postgres_url, query=query)
    assert by_query.headers == ["id", "d", "t"]
    assert [v for _, v in by_query.rows()] == [["1", "2024-01-02", "12:30"], ["2", "2024-01-03", "12:30"],
                                               ["3", "2024-01-04", "12:30"]]


@pytest.mark.postgres
def test_postgresql_wrong_password_is_one_clear_error(postgres_url: str) -> None:
    wrong = postgres_url.replace("portal-test-pw", "Wrong-Secret-42")
    with pytest.raises(SourceError) as caught:
        open_source(wrong, table="anything")
    error = caught.value
    assert "Wrong-Secret-42" not in error.message_zh + error.message_en
    assert "password authentication failed" in error.message_zh
    assert "postgresql+psycopg://postgres@127.0.0.1" in error.message_zh


# --- Oracle ---------------------------------------------------------------------------------------------


def oracle_text(error_number: int, **args: object) -> str:
    """The exact message python-oracledb produces, from its own message table."""
    return str(oracle_errors._create_err(error_number, **args).message)


@pytest.mark.parametrize(("message", "must_say"), [
    (lambda: oracle_text(oracle_errors.ERR_INVALID_SERVICE_NAME, service_name="ORCLPDB1", host="10.1.2.3",
                         port=1521), "lsnrctl status"),
    (lambda: oracle_text(oracle_errors.ERR_LISTENER_REFUSED_CONNECTION, error_code=12514), "服务名"),
    (lambda: "ORA-12514: TNS:listener does not currently know of service requested in connect descriptor",
     "服务名（SERVICE_NAME）而不是 SID"),
    (lambda: oracle_text(oracle_errors.ERR_INVALID_SID, sid="ORCL", host="10.1.2.3", port=1521),
     "service_name"),
    (lambda: "ORA-12505: TNS:listener does not currently know of SID given in connect descriptor", "SID"),
    (lambda: oracle_text(oracle_errors.ERR_CONNECTION_FAILED, connection_id="abc") + "\n[Errno 111] Connection refused",
     "没有监听程序"),
    (lambda: "ORA-12541: TNS:no listener", "没有监听程序"),
    (lambda: "ORA-12541: Cannot connect. No listener at host 10.1.2.3 port 1521.", "防火墙"),
    (lambda: "ORA-01017: invalid username/password; logon denied", "用户名或密码错误"),
    (lambda: "ORA-01017: invalid credential or not authorized; logon denied", "用户名或密码错误"),
    (lambda: oracle_text(oracle_errors.ERR_CONNECTION_FAILED, connection_id="abc") + "\ntimed out", "超时"),
    (lambda: "ORA-12170: TNS:Connect timeout occurred", "超时"),
    (lambda: "ORA-28000: The account is locked.", "锁定"),
    (lambda: oracle_text(oracle_errors.ERR_CONNECTION_FAILED, connection_id="abc")
     + "\n[Errno -2] Name or service not known", "无法解析主机名"),
])
def test_explain_oracle_error(message, must_say: str) -> None:  # type: ignore[no-untyped-def]
    error = explain_oracle_error(message(), "10.1.2.3", 1521, "ORCLPDB1")
    assert isinstance(error, SourceError)
    assert must_say in error.message_zh
    assert "10.1.2.3:1521" in error.message_zh and "ORCLPDB1" in error.message_zh
    assert "10.1.2.3" in error.message_en


def test_explain_oracle_error_codes_are_named() -> None:
    error = explain_oracle_error(oracle_text(oracle_errors.ERR_INVALID_SERVICE_NAME, service_name="X",
                                             host="h", port=1), "h", 1, "X")
    assert "DPY-6001" in error.message_zh and "ORA-12514" in error.message_zh
    unknown = explain_oracle_error("ORA-00600: internal error code, arguments: [kkk]", "h", 1521, "S")
    assert "ORA-00600" in unknown.message_zh


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens there


def test_real_oracle_connection_to_closed_port(tmp_path: Path) -> None:
    port = closed_port()
    url = f"oracle+oracledb://credit_reader:Tiger-Secret-99@127.0.0.1:{port}/?service_name=ORCLPDB1"
    assert oracledb.is_thin_mode()
    with pytest.raises(SourceError) as caught:
        open_source(url, table="CREDIT_LIST")
    error = caught.value
    assert "没有监听程序" in error.message_zh
    assert f"127.0.0.1:{port}" in error.message_zh
    assert "ORCLPDB1" in error.message_zh
    assert "DPY-6005" in error.message_zh
    assert "Tiger-Secret-99" not in error.message_zh + error.message_en + str(error)


# --- Committed fixture files, read and mapped end to end ---------------------------------------------


def test_committed_fixture_legacy_penalty_csv() -> None:
    table = open_source(FIXTURES / "xzcf-legacy-gb18030.csv")
    assert table.encoding == "gb18030"
    assert table.header_row == 2  # below the title line
    mapping = map_headers(table.headers)
    require_columns(mapping, table.name)
    assert (mapping.template, mapping.layout) == ("XZCF", "xzcf-legacy")
    assert mapping.unknown == ["数据更新时间戳"]  # reported, not dropped silently
    picked = [(number, mapping.pick(values)) for number, values in table.rows()]
    assert [number for number, _ in picked] == [3, 4]
    company, person = picked[0][1], picked[1][1]
    assert company["subject_name"] == "达州市堃源商贸有限公司"
    assert company["uscc"] == "91511700MA62A0XB2T"
    assert company["penalty_category"] == "警告；罚款"
    assert company["legal_rep"] == "李堃"
    assert person["subject_name"] == "王㛃"
    assert person["id_number"] == "511702199001011234"  # 行政相对人代码_5 of the old layout
    assert person["decision_date"] == "2024年3月6日"
    assert person["penalty_category"] == "罚款"


def test_committed_fixture_national_licence_xlsx() -> None:
    table = open_source(FIXTURES / "xzxk-national.xlsx")
    assert table.header_row == 3
    mapping = map_headers(table.headers)
    require_columns(mapping, table.name)
    assert mapping.template == "XZXK"
    assert mapping.unknown == [] and mapping.duplicates == []
    [(number, values)] = list(table.rows())
    assert number == 4
    picked = mapping.pick(values)
    assert picked["decision_no"] == "达市监许〔2024〕101号"
    assert picked["decision_date"] == "2024-03-05"
    assert picked["valid_until"] == "2029-03-04"
    assert picked["legal_rep_id_number"] == "511702199001011234"
    assert picked["authority_uscc"] == "11511700MB1234567Y"
    assert picked["remarks"] is None


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        open_source(tmp_path / "nowhere.csv")
    assert "找不到文件" in caught.value.message_zh
    path = write_csv(tmp_path / "ok.csv", [HEADER, ROWS[0]])
    with pytest.raises(SourceError) as caught:
        open_source(path, fmt="xml")
    assert "xml" in caught.value.message_zh
    assert open_source(path, fmt="csv").headers == HEADER
