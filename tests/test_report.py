"""The credit report end to end: the real app over a real SQLite index, real PDFs signed with real keys
(the generated TEST ONLY key, and an office PKCS#12 made here), validated with pyHanko's validator."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from pypdf import PdfReader

from portal.ingest.identifiers import uscc_check_character
from portal.public.records import ListKind
from portal.public.snapshot import write_snapshot
from portal.report.content import SECTION_TITLES
from portal.report.signing import TEST_CERT_FILE, SigningKeyError, check_signature
from search_api.app import create_app
from search_api.indexer import build_index
from search_api.settings import Settings
from search_api.testing import TEST_HMAC_KEY, TEST_TODAY, make_entry, sample_tombstones

SITE = "http://127.0.0.1:8000"


def uscc(body17: str) -> str:
    """A USCC with its correct GB 32100-2015 check character."""
    return body17 + uscc_check_character(body17)


ORG = uscc("91511700MA62RPT01")
EMPTY_ORG = uscc("91511700MA62RPT02")
SHOP_REG_NO = "511702600123456"
WRONG_CHECK = ORG[:17] + ("0" if ORG[17] != "0" else "1")


def entries_v1() -> list[dict[str, Any]]:
    return [
        make_entry("达州市报告测试建设有限公司", uscc=ORG, decision_date="2026-02-01", decision_no="达市监处罚〔2026〕7号",
                   facts="提供虚假材料骗取登记", legal_rep="李明"),
        make_entry("达州市报告测试建设有限公司", list_code="XZCF", uscc=ORG, decision_date="2026-04-01",
                   decision_no="达市监罚〔2026〕88号", facts="未按规定公示年度报告",
                   details={"penalty_category": "罚款", "fine_amount": "1.5"}),
        make_entry("达州市报告测试建设有限公司", list_code="AJNSR", uscc=ORG, decision_date="2025-12-01",
                   authority="国家税务总局达州市税务局"),
        make_entry("达州市通川区报告测试五金店", list_code="ZDGZ", subject_type="个体工商户", reg_no=SHOP_REG_NO,
                   decision_date="2026-06-01"),
        make_entry("王某某", list_code="SXBZXR", is_person=True, raw_id="51170219850312123X", subject_type="自然人",
                   decision_date="2026-03-01"),
    ]


def publish(work: Path, entries: list[dict[str, Any]], tombstones: list[dict[str, Any]], as_of: dt.date) -> None:
    """What a publish does to the API: a new snapshot and an index swapped into place."""
    write_snapshot(work / "snapshots", entries, tombstones, data_as_of=as_of, changes=[])
    build_index(work / "snapshots" / "latest", work / "index.sqlite3")


def make_settings(work: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"index_path": work / "index.sqlite3", "api_keys_db": work / "keys.sqlite3",
                              "hmac_key": TEST_HMAC_KEY, "site_origin": SITE, "access_log": False,
                              "rate_report_per_minute": 10_000, "rate_verify_per_minute": 10_000,
                              "report_registry_db": work / "reports.sqlite3",
                              "report_dev_key_dir": work / "report-key"}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("report")
    publish(work, entries_v1(), sample_tombstones(), TEST_TODAY)
    return work


@pytest.fixture(scope="module")
def client(work: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(work), today=lambda: TEST_TODAY), raise_server_exceptions=False) as c:
        yield c


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"code", "message"} and body["error"]["code"] == code
    assert re.search(r"[\u4e00-\u9fff]", body["error"]["message"])
    return body


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def printed(text: str, label: str) -> str:
    match = re.search(rf"{label}\s*([0-9A-Z]+)", text)
    assert match, f"{label} not printed"
    return match.group(1)


def download(client: TestClient, code: str) -> tuple[bytes, str, str]:
    """A report, its number and its verification code as printed on it."""
    response = client.get(f"/api/v1/subjects/{code}/report")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    text = pdf_text(response.content)
    number = printed(text, "报告编号")
    assert response.headers["x-report-no"] == number
    return response.content, number, printed(text, "验证码")


def test_report_lists_every_public_entry_by_kind_and_verifies(client: TestClient, work: Path) -> None:
    pdf, number, code = download(client, ORG)
    text = pdf_text(pdf)
    for expected in ("公共信用信息报告", "达州市报告测试建设有限公司", ORG, "达市监处罚〔2026〕7号", "达市监罚〔2026〕88号",
                     "罚款金额（万元）", "国家税务总局达州市税务局", "2026年11月23日", "达州市社会信用体系建设领导小组办公室"):
        assert expected in text.replace("\n", ""), expected
    # the one kind without an entry gets the explicit statement, the others none
    assert f"截至2026年11月23日，未查询到该主体在本平台公示的{SECTION_TITLES[ListKind.WATCH]}记录" in text.replace("\n", "")
    assert text.count("未查询到") == 1
    assert "测试报告" in text  # signed with the generated development key, and it says so
    check = check_signature(pdf, (work / "report-key" / TEST_CERT_FILE).read_bytes())
    assert check.ok and "TEST ONLY" in check.signer

    verified = client.post("/api/v1/reports/verify", json={"report_no": number.lower(), "code": f" {code[:4]}-{code[4:]} "})
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert (body["report_no"], body["subject_code"], body["subject_name"]) == (number, ORG, "达州市报告测试建设有限公司")
    assert body["counts"] == {"black": 1, "watch": 0, "decision": 1, "red": 1}
    assert {e["decision_no"] for e in body["entries"] if "decision_no" in e} == {"达市监处罚〔2026〕7号", "达市监罚〔2026〕88号"}
    assert body["data_as_of"] == "2026-11-23" and body["test_key"] is True
    assert body["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()


def test_made_up_code_and_unknown_number_are_refused_alike(client: TestClient) -> None:
    _, number, code = download(client, ORG)
    made_up = "ABCDEFGHJKLM" if code != "ABCDEFGHJKLM" else "MLKJHGFEDCBA"
    wrong = assert_envelope(client.post("/api/v1/reports/verify", json={"report_no": number, "code": made_up}),
                            404, "report_not_verified")
    unknown = assert_envelope(client.post("/api/v1/reports/verify", json={"report_no": "XYBG20261123AAAAAAAA",
                                                                          "code": code}), 404, "report_not_verified")
    assert wrong == unknown
    assert_envelope(client.post("/api/v1/reports/verify", json={"report_no": number}), 422, "invalid_parameter")


def test_one_changed_byte_fails_the_signature_check(client: TestClient, work: Path) -> None:
    pdf, _, _ = download(client, ORG)
    certificate = (work / "report-key" / TEST_CERT_FILE).read_bytes()
    assert check_signature(pdf, certificate).ok
    # every byte outside the signature value is covered; a byte in the page content, in the middle of the file
    signed_range = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert signed_range is not None
    gap_start = int(signed_range.group(2))
    for position in (len(pdf) // 5, gap_start - 100, len(pdf) - 10):
        tampered = bytearray(pdf)
        tampered[position] ^= 0x01
        result = check_signature(bytes(tampered), certificate)
        assert not result.ok, position
    # a byte inside the signature value itself breaks the signature too
    tampered = bytearray(pdf)
    tampered[gap_start + 40] = ord("0") if tampered[gap_start + 40] != ord("0") else ord("1")
    assert not check_signature(bytes(tampered), certificate).ok


def test_every_font_is_embedded_and_the_page_renders(client: TestClient, tmp_path: Path) -> None:
    if shutil.which("pdffonts") is None or shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils not installed (scripts/test.sh installs it)")
    pdf, _, _ = download(client, ORG)
    (tmp_path / "r.pdf").write_bytes(pdf)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "r.pdf")], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows, fonts
    for row in rows:
        emb, sub = row.split()[-5:-3]
        assert (emb, sub) == ("yes", "yes"), row  # embedded and subset: no reader needs fonts of its own
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(tmp_path / "r.pdf"), str(tmp_path / "p")],
                   check=True)
    assert (tmp_path / "p-1.png").stat().st_size > 10_000


def test_organisation_without_entries_gets_a_report_that_says_so(client: TestClient) -> None:
    pdf, number, code = download(client, EMPTY_ORG)
    text = pdf_text(pdf).replace("\n", "")
    for kind in ListKind:
        assert f"截至2026年11月23日，未查询到该主体在本平台公示的{SECTION_TITLES[kind]}记录" in text
    assert EMPTY_ORG in text and "本平台未公示该主体的信息" in text
    body = client.post("/api/v1/reports/verify", json={"report_no": number, "code": code}).json()
    assert body["subject_name"] is None and body["entries"] == [] and set(body["counts"].values()) == {0}


def test_individual_business_by_registration_number(client: TestClient) -> None:
    pdf, number, code = download(client, SHOP_REG_NO)
    assert "达州市通川区报告测试五金店" in pdf_text(pdf) and "注册号" in pdf_text(pdf)
    body = client.post("/api/v1/reports/verify", json={"report_no": number, "code": code}).json()
    assert (body["code_kind"], body["subject_type"], body["counts"]["watch"]) == ("reg_no", "个体工商户", 1)


def test_wrong_check_character_and_person_numbers_are_422(client: TestClient) -> None:
    assert_envelope(client.get(f"/api/v1/subjects/{WRONG_CHECK}/report"), 422, "invalid_subject_code")
    # an ID number is 18 characters too: it is no USCC, so persons never get a report
    assert_envelope(client.get("/api/v1/subjects/51170219850312123X/report"), 422, "invalid_subject_code")
    assert_envelope(client.get("/api/v1/subjects/王某某/report"), 422, "invalid_subject_code")


def test_withdrawn_entry_leaves_later_reports_and_earlier_ones_verify_as_issued(tmp_path: Path) -> None:
    work = tmp_path
    publish(work, entries_v1(), [], TEST_TODAY)
    app = create_app(make_settings(work), today=lambda: TEST_TODAY + dt.timedelta(days=1))
    with TestClient(app, raise_server_exceptions=False) as client:
        before, number_before, code_before = download(client, ORG)
        black = next(e for e in entries_v1() if e["list_code"] == "YZWFSX")
        assert black["decision_no"] in pdf_text(before)
        # the next publish withdraws the black-list entry (信用修复); later snapshots are pruned, rolled back…
        tombstone = {"id": black["id"], "list_code": "YZWFSX", "list_name": black["list_name"], "list_kind": "black",
                     "is_person": False, "withdrawn_on": "2026-11-24", "reason": "信用修复"}
        publish(work, [e for e in entries_v1() if e["id"] != black["id"]], [tombstone], TEST_TODAY + dt.timedelta(days=1))
        shutil.rmtree(work / "snapshots")  # …the registry does not depend on any of them
        after, number_after, code_after = download(client, ORG)
        text_after = pdf_text(after).replace("\n", "")
        assert black["decision_no"] not in text_after
        assert f"截至2026年11月24日，未查询到该主体在本平台公示的{SECTION_TITLES[ListKind.BLACK]}记录" in text_after
        old = client.post("/api/v1/reports/verify", json={"report_no": number_before, "code": code_before}).json()
        assert black["id"] in {e["id"] for e in old["entries"]} and old["data_as_of"] == "2026-11-23"
        new = client.post("/api/v1/reports/verify", json={"report_no": number_after, "code": code_after}).json()
        assert black["id"] not in {e["id"] for e in new["entries"]} and new["counts"]["black"] == 0


def office_pkcs12(directory: Path, passphrase: bytes, common_name: str = "达州市社会信用体系建设领导小组办公室") -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / "office.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"office", key, cert, None, serialization.BestAvailableEncryption(passphrase)))
    (directory / "office-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_configured_office_key_signs_and_validates_against_its_certificate(work: Path, tmp_path: Path) -> None:
    p12 = office_pkcs12(tmp_path, b"s3cret-passphrase")
    settings = make_settings(work, report_signing_pkcs12=p12, report_signing_passphrase="s3cret-passphrase",
                             report_registry_db=tmp_path / "reports.sqlite3", report_dev_key_dir=tmp_path / "unused")
    with TestClient(create_app(settings, today=lambda: TEST_TODAY), raise_server_exceptions=False) as client:
        pdf, _, _ = download(client, ORG)
    assert "测试报告" not in pdf_text(pdf)
    check = check_signature(pdf, (tmp_path / "office-cert.pem").read_bytes())
    assert check.ok and "达州市社会信用体系建设领导小组办公室" in check.signer
    (tmp_path / "other").mkdir()
    other = office_pkcs12(tmp_path / "other", b"x")  # another office's certificate of the same name
    assert not check_signature(pdf, (other.parent / "office-cert.pem").read_bytes()).trusted
    assert not (tmp_path / "unused").exists()  # no test key is made when the office's key is configured


def test_production_refuses_to_start_without_a_real_key(work: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_ENV", "production")
    base = {"report_registry_db": tmp_path / "reports.sqlite3", "report_dev_key_dir": tmp_path / "dev"}
    with pytest.raises(SigningKeyError, match="生产模式下必须配置报告签章密钥"):
        create_app(make_settings(work, **base))
    assert not (tmp_path / "dev").exists()
    # the generated test key, configured explicitly, is refused too: its certificate says TEST ONLY
    monkeypatch.delenv("PORTAL_ENV")
    with TestClient(create_app(make_settings(work, **base), today=lambda: TEST_TODAY)) as client:
        download(client, ORG)
    monkeypatch.setenv("PORTAL_ENV", "production")
    with pytest.raises(SigningKeyError, match="TEST ONLY"):
        create_app(make_settings(work, **base, report_signing_key=tmp_path / "dev" / "test-signing-key.pem",
                                 report_signing_cert=tmp_path / "dev" / TEST_CERT_FILE))
    p12 = office_pkcs12(tmp_path, b"right")
    with pytest.raises(SigningKeyError, match="口令"):
        create_app(make_settings(work, **base, report_signing_pkcs12=p12, report_signing_passphrase="wrong"))
    assert create_app(make_settings(work, **base, report_signing_pkcs12=p12, report_signing_passphrase="right"))


def test_reports_have_their_own_rate_limit(work: Path, tmp_path: Path) -> None:
    settings = make_settings(work, rate_report_per_minute=2, rate_burst_factor=0.5,
                             report_registry_db=tmp_path / "reports.sqlite3", report_dev_key_dir=tmp_path / "key")
    with TestClient(create_app(settings, today=lambda: TEST_TODAY), raise_server_exceptions=False) as client:
        download(client, EMPTY_ORG)
        limited = assert_envelope(client.get(f"/api/v1/subjects/{EMPTY_ORG}/report"), 429, "rate_limited")
        assert "秒后重试" in limited["error"]["message"]  # and the search bucket is untouched:
        assert client.get("/api/v1/search", params={"q": "报告测试"}).status_code == 200
        assert int(client.get(f"/api/v1/subjects/{EMPTY_ORG}/report").headers["retry-after"]) >= 1


def pem_pair(directory: Path, name: str, *, days: int = 365, start_days_ago: int = 1) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=start_days_ago))
            .not_valid_after(now - dt.timedelta(days=start_days_ago) + dt.timedelta(days=days))
            .sign(key, hashes.SHA256()))
    key_path, cert_path = directory / f"{name}-key.pem", directory / f"{name}-cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def test_a_key_of_another_certificate_or_an_expired_certificate_is_refused(work: Path, tmp_path: Path) -> None:
    key_a, cert_a = pem_pair(tmp_path, "a")
    key_b, cert_b = pem_pair(tmp_path, "b")
    _, expired = pem_pair(tmp_path, "old", days=30, start_days_ago=400)
    base = {"report_registry_db": tmp_path / "reports.sqlite3", "report_dev_key_dir": tmp_path / "dev"}
    for key, cert, reason in ((key_a, cert_b, "不匹配"), (tmp_path / "old-key.pem", expired, "有效期"),
                              (key_a, None, "同时配置")):
        app = create_app(make_settings(work, **base, report_signing_key=key, report_signing_cert=cert))
        with pytest.raises(SigningKeyError, match=reason):
            app.state.report.issuer  # noqa: B018 - outside production the key is loaded on first use
    app = create_app(make_settings(work, **base, report_signing_key=key_a, report_signing_cert=cert_a))
    with TestClient(app, raise_server_exceptions=False) as client:
        pdf, _, _ = download(client, ORG)
    assert check_signature(pdf, cert_a.read_bytes()).ok and not check_signature(pdf, cert_b.read_bytes()).trusted
