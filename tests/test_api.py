"""The API end to end: real SQLite index built from a real snapshot, the real app through TestClient."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from search_api import keys
from search_api.app import create_app
from search_api.indexer import build_index
from search_api.models import CheckResponse
from search_api.settings import MAX_PER_PAGE, MAX_PERSON_RESULT_WINDOW, MAX_RESULT_WINDOW, Settings
from search_api.testing import (
    PERSON_ID,
    REP_ID,
    TEST_HMAC_KEY,
    TEST_TODAY,
    USCC_A,
    USCC_B,
    WITHDRAWN_ID,
    sample_entries,
    write_test_snapshot,
)

SITE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("api")
    build_index(write_test_snapshot(work / "snapshots"), work / "index.sqlite3")
    return work


def make_settings(work: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"index_path": work / "index.sqlite3", "api_keys_db": work / "keys.sqlite3",
                              "hmac_key": TEST_HMAC_KEY, "site_origin": SITE, "rate_search_per_minute": 10_000,
                              "rate_person_per_minute": 10_000, "rate_check_per_minute": 10_000}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def client(built: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(built), today=lambda: TEST_TODAY)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def entry_id(name: str) -> str:
    return next(e["id"] for e in sample_entries() if e["subject_name"] == name)


def assert_envelope(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"code", "message"}
    assert re.search(r"[\u4e00-\u9fff]", body["error"]["message"]), "message must be Chinese"
    assert "Traceback" not in response.text
    if code:
        assert body["error"]["code"] == code
    return body


# --- search ------------------------------------------------------------------------------------------

def test_search_matches_the_contract(client: TestClient) -> None:
    response = client.get("/api/v1/search", params={"q": "王伟", "per_page": 3})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"total", "hits", "facets", "page", "per_page", "data_as_of", "took_ms"}
    assert body["total"] == {"value": 5, "relation": "eq"}
    assert (body["page"], body["per_page"], body["data_as_of"]) == (1, 3, "2026-11-23")
    assert [hit["subject_name"] for hit in body["hits"]] == ["王伟", "王伟东", "达州市王伟建材经营部"]
    first = body["hits"][0]
    assert set(first) == {"id", "url", "subject_name", "subject_type", "is_person", "uscc", "id_number", "list_code",
                          "list_name", "list_kind", "status", "decision_date", "publish_until", "authority",
                          "region", "decision_no", "highlights"}
    assert first["url"] == f"/entries/{first['id']}/"
    assert first["id_number"] == PERSON_ID[:4] + "*" * 10 + PERSON_ID[-4:]
    assert first["highlights"] == {"subject_name": "<mark>王伟</mark>"}
    assert set(body["facets"]) == {"list_kind", "list_code", "region", "authority"}
    assert body["facets"]["list_kind"] == {"black": 4, "watch": 1}
    without = client.get("/api/v1/search", params={"q": "王伟", "per_page": 3, "facets": "false"}).json()
    assert without["facets"] == {} and without["hits"] == body["hits"] and without["total"] == body["total"]
    # /search writes its JSON itself (no response_model validation at run time): it must still be exactly a
    # SearchResponse, nothing missing, nothing more (extra="forbid" on a copy of the model).
    from pydantic import ConfigDict, create_model

    from search_api.models import Hit, SearchResponse

    strict = create_model("StrictSearch", __config__=ConfigDict(extra="forbid"),
                          **{name: (field.annotation, field) for name, field in SearchResponse.model_fields.items()})
    for payload in (body, without):
        strict.model_validate(payload)
        for hit in payload["hits"]:
            assert set(hit) == set(Hit.model_fields)


def test_search_filters_and_paging(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": "王伟", "subject_type": "自然人"}).json()
    assert [hit["subject_name"] for hit in body["hits"]] == ["王伟", "王伟东"]
    page2 = client.get("/api/v1/search", params={"q": "王伟", "per_page": 2, "page": 2}).json()
    assert [hit["subject_name"] for hit in page2["hits"]] == ["达州市王伟建材经营部", "<script>alert(1)</script>王伟商行"]
    assert client.get("/api/v1/search", params={"q": "台湾", "list_kind": "decision"}).json()["total"]["value"] == 1
    assert client.get("/api/v1/search", params={"q": "达州", "decided_from": "2026-06-01"}).json()["total"]["value"] == 3


@pytest.mark.parametrize("q", ['"', "*", "NEAR(a b)", "-王伟", "王伟 AND 达州", "(王伟", "^王", "王\"伟", "x OR y",
                               "name:王", "\\", "'", "%", "_", "\x00", "😀"])
def test_fts_syntax_never_fails(client: TestClient, q: str) -> None:
    response = client.get("/api/v1/search", params={"q": q})
    assert response.status_code == 200, response.text
    assert response.json()["total"]["relation"] == "eq"


def test_per_page_and_window_limits(client: TestClient) -> None:
    assert_envelope(client.get("/api/v1/search", params={"per_page": MAX_PER_PAGE + 1}), 422, "invalid_parameter")
    assert client.get("/api/v1/search", params={"per_page": MAX_PER_PAGE}).status_code == 200
    last_page = MAX_RESULT_WINDOW // MAX_PER_PAGE
    assert client.get("/api/v1/search", params={"per_page": MAX_PER_PAGE, "page": last_page}).status_code == 200
    assert_envelope(client.get("/api/v1/search", params={"per_page": MAX_PER_PAGE, "page": last_page + 1}),
                    400, "result_window_exceeded")
    person_pages = MAX_PERSON_RESULT_WINDOW // 10
    params = {"subject_type": "自然人", "per_page": 10}
    assert client.get("/api/v1/search", params={**params, "page": person_pages}).status_code == 200
    assert_envelope(client.get("/api/v1/search", params={**params, "page": person_pages + 1}),
                    400, "result_window_exceeded")


def test_openapi_shows_limits_and_examples(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    parameters = {p["name"]: p for p in spec["paths"]["/api/v1/search"]["get"]["parameters"]}
    assert parameters["per_page"]["schema"]["maximum"] == MAX_PER_PAGE
    assert parameters["q"]["schema"]["maxLength"] > 0
    assert parameters["q"].get("examples") or parameters["q"]["schema"].get("examples")
    check_body = spec["paths"]["/api/v1/check"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert check_body["$ref"].endswith("/CheckRequest")
    assert spec["components"]["schemas"]["CheckRequest"]["properties"]["subjects"]["maxItems"] == 1_000
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"


# --- entries and subjects -----------------------------------------------------------------------------

def test_entry_found_withdrawn_expired_unknown(client: TestClient) -> None:
    found = client.get(f"/api/v1/entries/{entry_id('王伟')}")
    assert found.status_code == 200
    body = found.json()
    assert body["subject_name"] == "王伟" and body["url"] == f"/entries/{entry_id('王伟')}/"
    assert not {"id_digest", "legal_rep_id_digest", "uscc_digest"} & set(body)
    gone = client.get(f"/api/v1/entries/{WITHDRAWN_ID}")
    tombstone = assert_envelope(gone, 410, "withdrawn")["tombstone"]
    assert tombstone == {"id": WITHDRAWN_ID, "list_code": "YZWFSX", "list_name": "严重违法失信企业名单",
                         "list_kind": "black", "is_person": False, "withdrawn_on": "2026-11-20", "reason": "信用修复"}
    expired = assert_envelope(client.get(f"/api/v1/entries/{entry_id('过期公司')}"), 410, "withdrawn")
    assert expired["tombstone"]["reason"] == "期满" and "过期公司" not in str(expired)
    assert_envelope(client.get("/api/v1/entries/ffffffffffffffff"), 404, "not_found")


def test_subject_groups_red_and_black(client: TestClient) -> None:
    body = client.get(f"/api/v1/subjects/{USCC_A.lower()}").json()
    assert body["uscc"] == USCC_A and body["total"] == 2
    assert [e["list_code"] for e in body["groups"]["black"]] == ["YZWFSX"]
    assert [e["list_code"] for e in body["groups"]["red"]] == ["AJNSR"]
    assert body["groups"]["watch"] == [] and body["groups"]["decision"] == []
    assert_envelope(client.get("/api/v1/subjects/91511700MA62EXP01T"), 404, "subject_not_found")  # expired only


# --- lookup and check --------------------------------------------------------------------------------

def test_lookup_by_full_id_number(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    spaced = f" {PERSON_ID[:6]} {PERSON_ID[6:].lower()} "
    body = client.post("/api/v1/lookup", json={"id_number": spaced}).json()
    assert [hit["subject_name"] for hit in body["hits"]] == ["王伟"]
    assert client.post("/api/v1/lookup", json={"id_number": PERSON_ID, "name": "王伟"}).json()["total"] == 1
    assert client.post("/api/v1/lookup", json={"id_number": PERSON_ID, "name": "李四"}).json()["total"] == 0
    rep = client.post("/api/v1/lookup", json={"id_number": REP_ID, "name": "李明"}).json()
    assert [hit["subject_name"] for hit in rep["hits"]] == ["達州市某某建築工程有限公司"]
    invalid = client.post("/api/v1/lookup", json={"id_number": PERSON_ID, "unexpected": PERSON_ID})
    assert_envelope(invalid, 422)
    assert PERSON_ID not in invalid.text and PERSON_ID.lower() not in invalid.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/api/v1/lookup" in logged  # the access log is written…
    assert PERSON_ID not in logged and PERSON_ID[6:14] not in logged  # …and never holds the number


def test_lookup_with_legacy_15_digit_number(built: Path) -> None:
    from portal.ingest.identifiers import upgrade_ric15

    legacy = "511702850312123"
    upgraded = upgrade_ric15(legacy)
    from search_api.testing import make_entry

    work = built / "legacy"
    build_index(write_test_snapshot(work / "snap", [make_entry("赵六", is_person=True, raw_id=upgraded,
                                                               list_code="SXBZXR", subject_type="自然人")]),
                work / "index.sqlite3")
    with TestClient(create_app(make_settings(work), today=lambda: TEST_TODAY)) as legacy_client:
        body = legacy_client.post("/api/v1/lookup", json={"id_number": legacy}).json()
    assert [hit["subject_name"] for hit in body["hits"]] == ["赵六"]


def test_check_needs_a_valid_key(client: TestClient, built: Path) -> None:
    payload = {"subjects": [{"ref": "a", "uscc": USCC_A}, {"ref": "b", "id_number": PERSON_ID},
                            {"ref": "c", "name": "达州市王伟建材经营部"}, {"ref": "d", "name": "清白公司"}]}
    assert_envelope(client.post("/api/v1/check", json=payload), 401, "api_key_required")
    assert_envelope(client.post("/api/v1/check", json=payload, headers={"X-API-Key": "pk_nope_x"}), 403, "api_key_invalid")
    key = keys.issue_key("市政务服务中心", db_path=built / "keys.sqlite3")
    response = client.post("/api/v1/check", json=payload, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["checked"], body["with_hits"]) == (4, 3)
    by_ref = {result["ref"]: result for result in body["results"]}
    assert by_ref["a"]["black"] and by_ref["a"]["red"]
    assert {hit["matched_by"] for hit in by_ref["a"]["hits"]} == {"uscc"}
    assert by_ref["b"]["black"] and by_ref["b"]["hits"][0]["matched_by"] == "id_number"
    assert by_ref["c"]["watch"] and not by_ref["c"]["black"]
    assert by_ref["d"]["hits"] == [] and not by_ref["d"]["black"]
    listed = keys.list_keys(db_path=built / "keys.sqlite3")
    assert listed[-1]["name"] == "市政务服务中心" and "sha256" not in listed[-1]
    assert keys.revoke_key(listed[-1]["prefix"], db_path=built / "keys.sqlite3")
    assert_envelope(client.post("/api/v1/check", json=payload, headers={"X-API-Key": key}), 403, "api_key_revoked")


def wrong_check_character(uscc: str) -> str:
    """The same code with a different last character (so its GB 32100-2015 check character is wrong)."""
    return uscc[:17] + ("0" if uscc[17] != "0" else "1")


def test_a_wrong_uscc_check_character_is_invalid_never_not_found(client: TestClient, built: Path) -> None:
    typo = wrong_check_character(USCC_A)
    assert_envelope(client.get(f"/api/v1/subjects/{typo}"), 422, "invalid_uscc")
    assert_envelope(client.get("/api/v1/subjects/9151170"), 422, "invalid_uscc")  # too short to be a USCC
    key = keys.issue_key("窗口", db_path=built / "keys.sqlite3")
    bad_id = PERSON_ID[:17] + ("0" if PERSON_ID[17] != "0" else "1")
    payload = {"subjects": [{"ref": "typo", "uscc": typo}, {"ref": "ok", "uscc": USCC_A},
                            {"ref": "bad-id", "id_number": bad_id}, {"ref": "clean", "uscc": USCC_B[:17] + "0"}]}
    body = client.post("/api/v1/check", json=payload, headers={"X-API-Key": key}).json()
    by_ref = {result["ref"]: result for result in body["results"]}
    assert not by_ref["typo"]["valid"] and by_ref["typo"]["problems"] == ["统一社会信用代码：统一社会信用代码校验码错误"]
    assert typo not in str(by_ref["typo"])  # the reason, never the value
    assert by_ref["ok"]["valid"] and by_ref["ok"]["black"]
    assert not by_ref["bad-id"]["valid"] and by_ref["bad-id"]["problems"][0].startswith("证件号码：")
    assert by_ref["clean"]["problems"] and (body["invalid"], body["with_hits"]) == (3, 1)
    CheckResponse.model_validate(body)


def test_lists_carry_their_measures(client: TestClient) -> None:
    from portal.public.measures import load_measures  # what the snapshot copied (PORTAL_MEASURES)

    body = client.get("/api/v1/lists").json()
    expected = {code: len(items) for code, items in load_measures()["measures"].items()}
    shown = {item["code"]: len(item["measures"]) for item in body["lists"]}
    assert {code: n for code, n in shown.items() if code in expected} == {c: expected[c] for c in shown if c in expected}
    assert min(shown.values()) >= 4  # measures.toml covers every list with 4–8 measures


def test_check_limits_batch_size(client: TestClient, built: Path) -> None:
    key = keys.issue_key("批量", db_path=built / "keys.sqlite3")
    headers = {"X-API-Key": key}
    full = {"subjects": [{"uscc": USCC_A}] * 1_000}
    assert client.post("/api/v1/check", json=full, headers=headers).json()["with_hits"] == 1_000
    assert_envelope(client.post("/api/v1/check", json={"subjects": [{"uscc": USCC_A}] * 1_001}, headers=headers), 422)
    assert_envelope(client.post("/api/v1/check", json={"subjects": [{"ref": "nothing"}]}, headers=headers), 422)


def test_keys_are_stored_hashed(built: Path) -> None:
    db = built / "hashed.sqlite3"
    key = keys.issue_key("窗口", db_path=db)
    assert key.encode() not in db.read_bytes()
    assert keys.check_key(key, db_path=db).status == "valid"
    assert keys.revoke_key(keys.list_keys(db_path=db)[0]["id"], db_path=db)
    assert keys.check_key(key, db_path=db).status == "revoked"
    assert keys.revoke_key("pk_00000000", db_path=db) is False


# --- catalogue, stats, changes, health --------------------------------------------------------------

def read_changes(client: TestClient, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    collected: list[dict[str, Any]] = []
    cursor = None
    for _ in range(20):
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/changes", params=params, headers=headers or {})
        assert response.status_code == 200, response.text
        collected += response.json()["changes"]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return collected
    raise AssertionError("the change feed did not end")


def test_persons_changes_only_with_an_api_key(client: TestClient) -> None:
    persons = {e["id"] for e in sample_entries() if e["is_person"]}
    assert persons
    assert not persons & {c["id"] for c in read_changes(client)}
    db = client.app.state.portal.settings.api_keys_db  # type: ignore[attr-defined]
    key = keys.issue_key("上级平台", db_path=db)
    keyed = read_changes(client, {"X-API-Key": key})
    assert persons <= {c["id"] for c in keyed} and len(keyed) == len(sample_entries()) + 1
    assert_envelope(client.get("/api/v1/changes", headers={"X-API-Key": "pk_00000000_" + "x" * 43}), 403,
                    "api_key_invalid")


def test_lists_stats_changes(client: TestClient) -> None:
    lists = {item["code"]: item for item in client.get("/api/v1/lists").json()["lists"]}
    assert lists["YZWFSX"]["count"] == 4 and lists["YZWFSX"]["kind"] == "black"
    assert lists["CXSFQY"]["count"] == 0 and lists["CXSFQY"]["period"]
    stats = client.get("/api/v1/stats").json()
    assert stats["total"] == len(sample_entries()) - 1 and stats["by_region"]["达川区"] == 1
    organisations = [e for e in sample_entries() if not e["is_person"]]
    collected = read_changes(client)
    # The public feed carries no natural person (issue 12); the feed's positions still page through all.
    assert len(collected) == len(organisations) + 1 and collected[-1]["op"] == "withdrawn"
    assert {c["id"] for c in collected[:-1]} == {e["id"] for e in organisations}
    assert client.get("/api/v1/changes", params={"since": "2026-11-24"}).json()["changes"] == []
    assert_envelope(client.get("/api/v1/changes", params={"cursor": "garbage!"}), 400, "invalid_cursor")


def test_health_and_readiness(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "data_as_of": None}
    assert client.get("/readyz").json() == {"status": "ready", "engine": "sqlite", "data_as_of": "2026-11-23"}
    with TestClient(create_app(make_settings(tmp_path), today=lambda: TEST_TODAY)) as empty:
        assert empty.get("/healthz").status_code == 200
        not_ready = empty.get("/readyz")
        assert_envelope(not_ready, 503, "not_ready")
        assert (not_ready.json()["engine"], not_ready.json()["state"]) == ("sqlite", "index_missing")
        assert_envelope(empty.get("/api/v1/search", params={"q": "王伟"}), 503, "index_unavailable")


# --- cross-cutting ----------------------------------------------------------------------------------

def test_every_path_answers_errors_in_the_envelope(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    for path, operations in spec["paths"].items():
        concrete = path.replace("{entry_id}", "ffffffffffffffff").replace("{uscc}", "91511700MA62ZZZZZZ")
        for method in ("get", "post", "put", "delete", "patch"):
            if method not in operations:
                assert_envelope(client.request(method.upper(), concrete), 405, "method_not_allowed")
        if "get" in operations and operations["get"].get("parameters"):
            bad = {p["name"]: "x" * 5000 for p in operations["get"]["parameters"] if p["in"] == "query"}
            if bad:
                assert_envelope(client.get(concrete, params=bad), 422, "invalid_parameter")
        if "post" in operations:
            malformed = client.post(concrete, content=b"{not json", headers={"Content-Type": "application/json"})
            assert assert_envelope(malformed, 422)["error"]["message"] == "请求体不是有效的 JSON"
    assert_envelope(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_envelope(client.get("/nothing"), 404, "not_found")


def test_unexpected_error_is_a_500_envelope_without_trace(built: Path) -> None:
    class BrokenEngine:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("secret internals /etc/passwd")

    with TestClient(create_app(make_settings(built), engine=BrokenEngine(), today=lambda: TEST_TODAY),
                    raise_server_exceptions=False) as broken:
        response = broken.get("/api/v1/search", params={"q": "王伟"})
    assert_envelope(response, 500, "internal_error")
    assert "secret internals" not in response.text


def test_security_headers_and_cors(client: TestClient) -> None:
    response = client.get("/api/v1/search", params={"q": "王伟"}, headers={"Origin": SITE})
    assert response.headers["access-control-allow-origin"] == SITE
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    foreign = client.get("/api/v1/search", params={"q": "王伟"}, headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers
    preflight = client.options("/api/v1/check", headers={"Origin": SITE, "Access-Control-Request-Method": "POST",
                                                          "Access-Control-Request-Headers": "X-API-Key"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == SITE
    assert client.get("/api/v1/nothing").headers["x-content-type-options"] == "nosniff"


def test_body_size_limit(built: Path) -> None:
    with TestClient(create_app(make_settings(built, max_body_bytes=1_000), today=lambda: TEST_TODAY)) as small:
        response = small.post("/api/v1/lookup", content=b'{"id_number": "' + b"1" * 2_000 + b'"}',
                              headers={"Content-Type": "application/json"})
        assert_envelope(response, 413, "payload_too_large")
        assert small.post("/api/v1/lookup", json={"id_number": PERSON_ID}).status_code == 200


def test_rate_limits_answer_429_with_retry_after(built: Path) -> None:
    settings = make_settings(built, rate_search_per_minute=3, rate_person_per_minute=2, rate_burst_factor=1.0)
    with TestClient(create_app(settings, today=lambda: TEST_TODAY)) as limited:
        organisations = {"q": "达州", "subject_type": "法人及非法人组织"}  # no person: search bucket only
        statuses = [limited.get("/api/v1/search", params=organisations).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        blocked = limited.get("/api/v1/search", params=organisations)
        assert_envelope(blocked, 429, "rate_limited")
        assert int(blocked.headers["retry-after"]) >= 1
        # Person lookups have their own, stricter bucket.
        lookups = [limited.post("/api/v1/lookup", json={"id_number": PERSON_ID}).status_code for _ in range(3)]
        assert lookups == [200, 200, 429]
        persons = limited.get("/api/v1/search", params={"q": "王", "subject_type": "自然人"})
        assert_envelope(persons, 429, "rate_limited")


def test_query_timeout_is_a_503_envelope(tmp_path: Path) -> None:
    from search_api.testing import make_entry

    entries = [make_entry(f"达州市某某商贸有限公司{index}", decision_no=f"第{index}号") for index in range(400)]
    build_index(write_test_snapshot(tmp_path / "snap", entries), tmp_path / "index.sqlite3")
    with TestClient(create_app(make_settings(tmp_path, query_timeout_ms=0), today=lambda: TEST_TODAY)) as slow:
        response = slow.get("/api/v1/stats")
    assert_envelope(response, 503, "query_timeout")


def test_access_log_redacts_query_values(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="search_api.access")
    client.get("/api/v1/search", params={"q": PERSON_ID, "list_kind": "black"})
    line = next(r.getMessage() for r in caplog.records if r.name == "search_api.access")
    assert PERSON_ID not in line and "q=<18>" in line and "list_kind=black" in line


def test_query_time_expiry_follows_the_clock(built: Path) -> None:
    with TestClient(create_app(make_settings(built), today=lambda: TEST_TODAY.replace(day=24))) as tomorrow:
        assert tomorrow.get("/api/v1/search", params={"q": "今日到期公司"}).json()["total"]["value"] == 0
        assert tomorrow.get(f"/api/v1/entries/{entry_id('今日到期公司')}").status_code == 410


def test_uvicorn_access_log_is_redacted(client: TestClient) -> None:
    logger = logging.getLogger("uvicorn.access")
    record = logger.makeRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "GET", f"/api/v1/search?q={PERSON_ID}&page=2", "1.1", 200), None)
    assert all(f.filter(record) for f in logger.filters)
    assert PERSON_ID not in record.getMessage() and "page=2" in record.getMessage()


def test_docs_page_uses_packaged_swagger_assets_not_a_cdn(client: TestClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and "cdn.jsdelivr.net" not in page.text
    assert "/api/v1/docs-assets/swagger-ui-bundle.js" in page.text and "/api/v1/openapi.json" in page.text
    assert "'self'" in page.headers["content-security-policy"] and "jsdelivr" not in page.headers["content-security-policy"]
    script = client.get("/api/v1/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text
    assert client.get("/api/v1/docs-assets/swagger-ui.css").status_code == 200
    moved = client.get("/docs", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == "/api/v1/docs"
