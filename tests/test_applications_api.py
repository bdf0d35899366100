"""The applications service over HTTP: submission, status, and every error path, on SQLite and PostgreSQL.

Real index (search_api.testing's snapshot, indexed by the real indexer), real multipart bodies, real
attachment bytes, a virtual clock for the rate limits. Expected deadlines are counted by hand from the
rule (2 working days to accept, 10 to verify) on the 2026 calendar, not read from the code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from applications_support import (
    JPEG,
    PDF,
    PNG,
    docx,
    file_part,
    files_below,
    form_fields,
    fresh_postgres_url,
    uscc,
)
from fastapi.testclient import TestClient

from portal.applications.app import create_app
from portal.applications.settings import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_BODY_BYTES,
    SUBMISSIONS_PER_CLIENT_PER_HOUR,
    SUBMISSIONS_PER_ENTRY_PER_DAY,
    WRONG_CODES_PER_RECEIPT_PER_HOUR,
    Settings,
)
from portal.ingest.identifiers import ric_check_digit
from search_api.indexer import build_index
from search_api.testing import (
    TEST_HMAC_KEY,
    TEST_TODAY,
    WITHDRAWN_ID,
    make_entry,
    sample_entries,
    write_test_snapshot,
)

PERSON_ID = "51170219850307123" + ric_check_digit("51170219850307123")
CJK = re.compile(r"[\u4e00-\u9fff]")
USCC_ORG = uscc("91511700MA6200001")
USCC_PENALTY = uscc("91511702MA6200002")
ENTRIES = {e["subject_name"]: e for e in [
    *sample_entries(),
    make_entry("达州市甲建筑工程有限公司", uscc=USCC_ORG, decision_date="2026-02-01"),
    make_entry("王伟", list_code="SXBZXR", is_person=True, raw_id=PERSON_ID, decision_date="2026-03-01",
               subject_type="自然人", authority="达州市中级人民法院"),
    make_entry("达州市乙贸易有限公司", list_code="XZCF", uscc=USCC_PENALTY, decision_date="2026-04-01"),
]}
ORG = ENTRIES["达州市甲建筑工程有限公司"]  # YZWFSX, decided 2026-02-01
PERSON = ENTRIES["王伟"]  # SXBZXR (court list)
PENALTY = ENTRIES["达州市乙贸易有限公司"]  # XZCF, decided 2026-04-01


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("apply-index")
    path = work / "index.db"
    build_index(write_test_snapshot(work / "snapshots", list(ENTRIES.values())), path)
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return ""  # the default: <var>/applications/applications.db
    return fresh_postgres_url(request.getfixturevalue("postgres_url"))


@pytest.fixture
def service(tmp_path: Path, index: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("PORTAL_HMAC_KEY", TEST_HMAC_KEY)  # the key the sample snapshot's digests were made with
    clock = Clock()
    settings = Settings(var_dir=tmp_path / "var", index_path=index, db_url=db_url, pow_bits=8,
                        trust_forwarded_for=True, access_log=False)
    app = create_app(settings, today=lambda: TEST_TODAY, clock=clock)
    with TestClient(app) as client:
        yield {"client": client, "clock": clock, "settings": settings, "app": app}
    app.state.applications.store.close()


def error_of(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert CJK.search(message), message  # a clear message in Chinese
    return message


def submit(client: Any, entry_id: str = ORG["id"], files: list[Any] | None = None, ip: str = "203.0.113.7",
           **overrides: str) -> Any:
    return client.post("/apply/v1/applications", data=form_fields(client, entry_id, **overrides),
                       files=files if files is not None else [file_part(PDF)], headers={"X-Forwarded-For": ip})


def test_objection_is_filed_and_its_status_shows_the_deadlines(service: dict[str, Any]) -> None:
    client = service["client"]
    response = submit(client, files=[file_part(PDF), file_part(PNG, "营业执照.png", "image/png"),
                                     file_part(JPEG, "照片.jpeg", "image/jpeg"),
                                     file_part(docx(), "异议申请表.docx", "application/octet-stream")])
    assert response.status_code == 201, response.text
    body = response.json()
    assert re.fullmatch(r"YY20261123-[0-9A-HJKMNP-TV-Z]{6}", body["receipt"])
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{10}", body["code"])
    status = client.post("/apply/v1/status", json={"receipt": body["receipt"], "code": body["code"].lower()})
    assert status.status_code == 200, status.text
    shown = status.json()
    assert shown["state_zh"] == "待受理" and shown["received_on"] == "2026-11-23"
    # 2026-11-23 is a Monday: accept by Wednesday the 25th; verification 10 working days after that.
    assert shown["deadlines"]["accept_by"] == "2026-11-25"
    assert shown["deadlines"]["decide_by"] == "2026-12-09"
    assert shown["entry"] == {"id": ORG["id"], "list_name": "严重违法失信企业名单", "url": f"/entries/{ORG['id']}/"}
    # The status answer holds nothing the applicant typed: it may be shown on a shared screen.
    assert "李明" not in status.text and "0818" not in status.text
    store = service["app"].state.applications.store
    row = store.get(body["receipt"])
    assert row["identity_matches"] is True  # the USCC is the entry's
    kept = store.attachments_of(row["id"])
    assert [a["media_type"] for a in kept] == ["application/pdf", "image/png", "image/jpeg",
                                               "application/vnd.openxmlformats-officedocument.wordprocessingml.document"]
    assert kept[2]["filename"] == "照片.jpg"  # the suffix follows the bytes
    stored = files_below(service["settings"].resolved_attachments_dir)
    assert len(stored) == 4 and all(p.stat().st_mode & 0o077 == 0 for p in stored)


def test_entry_summary_gives_rules_without_a_persons_name(service: dict[str, Any]) -> None:
    client = service["client"]
    org = client.get(f"/apply/v1/entries/{ORG['id']}").json()
    assert org["subject_name"] == ORG["subject_name"]
    # YZWFSX: repair 1 year after 认定日期 2026-02-01 → from 2027-02-01, so not yet on 2026-11-23.
    assert org["repair"] == {**org["repair"], "allowed": False, "earliest": "2027-02-01"}
    assert "2027年2月1日" in org["repair"]["refusal"]
    person = client.get(f"/apply/v1/entries/{PERSON['id']}").json()
    assert person["subject_name"] is None and person["is_person"] is True
    assert person["repair"]["allowed"] is False and "人民法院" in person["repair"]["refusal"]
    penalty = client.get(f"/apply/v1/entries/{PENALTY['id']}").json()
    assert penalty["repair"]["allowed"] is True and penalty["repair"]["earliest"] == "2026-07-01"  # 3 months


def test_person_id_number_is_kept_only_as_digest_and_masked_form(service: dict[str, Any]) -> None:
    client = service["client"]
    response = submit(client, PERSON["id"], applicant_type="person", applicant_name="王伟",
                      applicant_code=PERSON_ID.lower())
    assert response.status_code == 201, response.text
    row = service["app"].state.applications.store.get(response.json()["receipt"])
    assert row["applicant_code"] == PERSON_ID[:4] + "*" * 10 + PERSON_ID[-4:]
    assert row["identity_matches"] is True  # the digest is the entry's id_digest
    assert PERSON_ID not in response.text
    if not service["settings"].db_url:  # SQLite: the raw number is nowhere in the store's bytes
        for path in files_below(service["settings"].root):
            assert PERSON_ID.encode() not in path.read_bytes(), path


def test_repair_for_an_eligible_penalty_and_refusals(service: dict[str, Any]) -> None:
    client = service["client"]
    ok = submit(client, PENALTY["id"], kind="repair", applicant_code=USCC_PENALTY)
    assert ok.status_code == 201, ok.text
    assert ok.json()["receipt"].startswith("XF20261123-")
    assert ok.json()["status"]["deadlines"]["decide_by"] == "2026-12-02"  # 5 working days after 11-25
    error_of(submit(client, PERSON["id"], kind="repair"), 422, "repair_not_possible")
    message = error_of(submit(client, ORG["id"], kind="repair"), 422, "repair_not_possible")
    assert "满1年" in message


@pytest.mark.parametrize(("data", "name"), [
    (b"MZ\x90\x00" + b"\x00" * 200, "申请书.pdf"),  # a Windows program named .pdf
    (b"<html><script>alert(1)</script></html>", "证明.jpg"),
    (b"PK\x03\x04not really a zip", "申请表.docx"),
])
def test_attachment_of_the_wrong_type_is_refused_by_its_bytes(service: dict[str, Any], data: bytes, name: str) -> None:
    client = service["client"]
    message = error_of(submit(client, files=[file_part(PDF), file_part(data, name)]), 415, "attachment_type")
    assert "第2个附件" in message
    assert files_below(service["settings"].resolved_attachments_dir) == []  # nothing kept of a refused form


def test_macro_enabled_word_document_is_refused(service: dict[str, Any]) -> None:
    error_of(submit(service["client"], files=[file_part(docx(macro=True), "表.docx")]), 415, "attachment_type")


def test_oversized_attachment_and_oversized_body(service: dict[str, Any]) -> None:
    client = service["client"]
    big = PDF + b"0" * (MAX_ATTACHMENT_BYTES + 1 - len(PDF))
    assert "5 MB" in error_of(submit(client, files=[file_part(big)]), 413, "attachment_too_large")
    response = client.post("/apply/v1/applications", content=b"x" * 10,
                           headers={"Content-Type": "multipart/form-data; boundary=x",
                                    "Content-Length": str(MAX_BODY_BYTES + 1)})
    error_of(response, 413, "payload_too_large")


def test_too_many_and_no_attachments(service: dict[str, Any]) -> None:
    client = service["client"]
    files = [file_part(PDF, f"{i}.pdf") for i in range(MAX_ATTACHMENTS + 1)]
    assert str(MAX_ATTACHMENTS) in error_of(submit(client, files=files), 413, "too_many_attachments")
    # A form whose file input was left empty sends one part without a name or bytes.
    error_of(submit(client, files=[("attachments", ("", b"", "application/octet-stream"))]), 422,
             "attachment_missing")


def test_challenge_must_be_solved_signed_and_fresh(service: dict[str, Any]) -> None:
    client = service["client"]
    fields = form_fields(client, ORG["id"])
    wrong = {**fields, "challenge_nonce": str(int(fields["challenge_nonce"]) + 1)}
    # A wrong nonce can by chance also have 8 zero bits (1 in 256): then pick another.
    import hashlib

    from portal.applications.challenge import leading_zero_bits
    while leading_zero_bits(hashlib.sha256(f"{wrong['challenge_token']}:{wrong['challenge_nonce']}".encode()).digest()) >= 8:
        wrong["challenge_nonce"] = str(int(wrong["challenge_nonce"]) + 1)
    post = lambda data: client.post("/apply/v1/applications", data=data, files=[file_part(PDF)])  # noqa: E731
    error_of(post(wrong), 403, "challenge_failed")
    forged = {**fields, "challenge_token": fields["challenge_token"][:-1] + ("0" if fields["challenge_token"][-1] != "0" else "1")}
    error_of(post(forged), 403, "challenge_failed")
    assert post(fields).status_code == 201
    assert "已使用" in error_of(post(fields), 403, "challenge_failed")  # one challenge, one application
    stale = form_fields(client, ORG["id"])
    # The challenge clock is wall time: age a token by rewriting its issue time (which breaks the signature
    # too, so the refusal is checked again below with a correctly signed old token).
    issued, rest = stale["challenge_token"].split(".", 1)
    error_of(post({**stale, "challenge_token": f"{int(issued) - 3 * 3600}.{rest}"}), 403, "challenge_failed")
    challenges = service["app"].state.applications.challenges
    real_clock = challenges.clock
    challenges.clock = lambda: real_clock() - 3 * 3600  # issued three hours ago, signed by the server
    old = challenges.issue()
    challenges.clock = real_clock
    from portal.applications.challenge import solve

    old_fields = {**stale, "challenge_token": old["token"], "challenge_nonce": solve(old["token"], old["bits"])}
    assert "过期" in error_of(post(old_fields), 403, "challenge_failed")


def test_missing_and_bad_fields_are_named_in_chinese(service: dict[str, Any]) -> None:
    client = service["client"]
    assert "联系电话" in error_of(submit(client, contact_phone=""), 422, "missing_field")
    assert "联系电话" in error_of(submit(client, contact_phone="call me maybe"), 422, "invalid_field")
    assert "校验码" in error_of(submit(client, applicant_code=USCC_ORG[:-1] + ("0" if USCC_ORG[-1] != "0" else "1")), 422, "invalid_field")
    assert "至少" in error_of(submit(client, grounds="有误"), 422, "invalid_field")
    assert "个人信息" in error_of(submit(client, consent=""), 422, "missing_field")
    error_of(submit(client, kind="complaint"), 422, "invalid_field")
    error_of(submit(client, "ffffffffffffffff"), 404, "entry_not_found")
    error_of(submit(client, WITHDRAWN_ID), 410, "entry_withdrawn")
    error_of(client.post("/apply/v1/applications", json={"kind": "objection"}), 415, "unsupported_media_type")
    error_of(client.get("/apply/v1/entries/not-an-id"), 404, "entry_not_found")
    error_of(client.post("/apply/v1/status", json={"receipt": "x"}), 422, "invalid_parameter")


def test_wrong_code_then_lockout_even_for_the_right_code(service: dict[str, Any]) -> None:
    client = service["client"]
    filed = submit(client).json()
    for _ in range(WRONG_CODES_PER_RECEIPT_PER_HOUR):
        error_of(client.post("/apply/v1/status", json={"receipt": filed["receipt"], "code": "0000000000"}),
                 404, "not_found_or_wrong_code")
    locked = client.post("/apply/v1/status", json={"receipt": filed["receipt"], "code": filed["code"]})
    error_of(locked, 429, "too_many_wrong_codes")
    service["clock"].now += 3601  # an hour later the right code works again
    again = client.post("/apply/v1/status", json={"receipt": filed["receipt"], "code": filed["code"]})
    assert again.status_code == 200, again.text
    # An unknown receipt answers exactly like a wrong code.
    error_of(client.post("/apply/v1/status", json={"receipt": "YY20261123-ZZZZZZ", "code": filed["code"]}),
             404, "not_found_or_wrong_code")


def test_rate_limit_per_client_and_per_entry(service: dict[str, Any]) -> None:
    client = service["client"]
    entries = [ORG["id"], PENALTY["id"], ENTRIES["ＡＢＣ科技（达州）有限公司"]["id"]]
    for i in range(SUBMISSIONS_PER_CLIENT_PER_HOUR):
        assert submit(client, entries[i % 3], ip="198.51.100.1").status_code == 201
    response = submit(client, entries[0], ip="198.51.100.1")
    error_of(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    service["clock"].now += 3600  # refilled after an hour
    assert submit(client, entries[1], ip="198.51.100.1").status_code == 201
    target = ENTRIES["<script>alert(1)</script>王伟商行"]["id"]
    for i in range(SUBMISSIONS_PER_ENTRY_PER_DAY):
        assert submit(client, target, ip=f"192.0.2.{i + 1}").status_code == 201
    message = error_of(submit(client, target, ip="192.0.2.99"), 429, "rate_limited")
    assert "该条信息" in message


def test_challenges_are_rate_limited(service: dict[str, Any]) -> None:
    from portal.applications.settings import CHALLENGES_PER_CLIENT_PER_MINUTE

    client = service["client"]
    for _ in range(CHALLENGES_PER_CLIENT_PER_MINUTE):
        assert client.get("/apply/v1/challenge").status_code == 200
    error_of(client.get("/apply/v1/challenge"), 429, "rate_limited")


def test_cors_allows_only_the_site(service: dict[str, Any]) -> None:
    client = service["client"]
    ok = client.options("/apply/v1/status", headers={"Origin": "http://127.0.0.1:8000",
                                                     "Access-Control-Request-Method": "POST"})
    assert ok.headers.get("access-control-allow-origin") == "http://127.0.0.1:8000"
    refused = client.options("/apply/v1/status", headers={"Origin": "https://evil.example",
                                                          "Access-Control-Request-Method": "POST"})
    error_of(refused, 400, "cors_refused")


def test_deadlines_skip_holidays_and_count_adjusted_working_weekends() -> None:
    """2025 春节 (State Council, 国办发明电〔2024〕12号): 1月28日–2月4日 off; Sunday 1月26日 and Saturday 2月8日
    are working days."""
    from portal.applications import rules
    from portal.applications.rules import Kind

    assert rules.accept_due(date(2025, 1, 24)) == date(2025, 1, 27)  # Friday → Sunday 26th (调休) → Monday 27th
    assert rules.accept_due(date(2025, 1, 27)) == date(2025, 2, 6)  # the holiday week is skipped
    # Accepted on 2025-02-06 (Thursday): 10 working days are 7th, Saturday 8th (调休), 10th–14th, 17th–19th.
    assert rules.decision_due(Kind.OBJECTION, date(2025, 2, 6)) == date(2025, 2, 19)
