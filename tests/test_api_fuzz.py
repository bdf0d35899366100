"""Schemathesis against the API's own OpenAPI document: every operation, generated and hand-picked cases.

The app runs in-process (ASGI) on a small real snapshot and SQLite index; POST /check is exercised with a
real key issued into a temporary key database. Rate limits are raised through ``Settings`` so that the run
is not flaky, and Hypothesis is derandomized and bounded so that CI is reproducible and quick.

Checks on every response: no 5xx, body conforms to the documented schema, status code documented, content
type documented.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from search_api import keys
from search_api.app import create_app
from search_api.indexer import build_index
from search_api.report_routes import report_router
from search_api.routers.api import router
from search_api.routers.health import health_router
from search_api.settings import API_PREFIX, MAX_PER_PAGE, MAX_RESULT_WINDOW, Settings
from search_api.testing import (
    PERSON_ID,
    TEST_HMAC_KEY,
    TEST_TODAY,
    USCC_A,
    WITHDRAWN_ID,
    sample_entries,
    write_test_snapshot,
)

# High enough that no fuzz case is ever rate limited (the whole run sends well under a thousand requests).
UNLIMITED_PER_MINUTE = 1_000_000
# Bounded for CI: about 15 s for the ten operations on the shared 2-core machine.
EXAMPLES_PER_OPERATION = 40
# Per generated case; a case is a single in-process request on a tiny index, so this only catches hangs.
CASE_DEADLINE_MS = 5_000
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance,
          response_headers_conformance]


def fuzz_settings(work: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "index_path": work / "index.sqlite3", "api_keys_db": work / "keys.sqlite3", "hmac_key": TEST_HMAC_KEY,
        "access_log": False, "rate_search_per_minute": UNLIMITED_PER_MINUTE,
        "rate_person_per_minute": UNLIMITED_PER_MINUTE, "rate_check_per_minute": UNLIMITED_PER_MINUTE,
        "rate_report_per_minute": UNLIMITED_PER_MINUTE, "rate_verify_per_minute": UNLIMITED_PER_MINUTE,
        "report_registry_db": work / "reports.sqlite3", "report_dev_key_dir": work / "report-key"}
    return Settings(**{**values, **overrides})


# schemathesis' lazy loader (``schemathesis.pytest.from_fixture``) fails under pytest 9.2 (it reads
# ``Node._nodeid``, which pytest removed), so the schema is loaded at import. Loading it only reads
# /openapi.json; the index and the key are made by the ``api_key`` fixture before the first case runs (the
# engine opens the index file per request).
WORK_DIR = tempfile.TemporaryDirectory(prefix="portal-fuzz-")
WORK = Path(WORK_DIR.name)
APP = create_app(fuzz_settings(WORK), today=lambda: TEST_TODAY)
schema = schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", APP)


@pytest.fixture(scope="module")
def api_key() -> Iterator[str]:
    build_index(write_test_snapshot(WORK / "snapshots"), WORK / "index.sqlite3")
    yield keys.issue_key("模糊测试窗口", db_path=WORK / "keys.sqlite3")
    WORK_DIR.cleanup()


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=CASE_DEADLINE_MS, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case, api_key: str) -> None:
    # The key goes on every request, so the authenticated path of POST /check is fuzzed; schemathesis
    # still sends its own unauthenticated probes (401 is documented).
    case.call_and_validate(headers={"X-API-Key": api_key}, checks=CHECKS)


def test_every_route_is_in_the_schema() -> None:
    """A route left out of the OpenAPI document would escape the fuzzer."""
    routes = {(method, prefix + route.path)
              for prefix, included in ((API_PREFIX, router), (API_PREFIX, report_router), ("", health_router))
              for route in included.routes if isinstance(route, APIRoute) for method in route.methods}
    documented = {(operation.method.upper(), operation.path)
                  for operation in (result.ok() for result in schema.get_all_operations())}
    assert routes == documented
    assert len(documented) == 12


def entry_id(name: str) -> str:
    return next(entry["id"] for entry in sample_entries() if entry["subject_name"] == name)


# USCC_A with another last character: a check character is unique, so this one is wrong by construction
WRONG_CHECK_USCC = USCC_A[:-1] + ("0" if USCC_A[-1] != "0" else "1")


def forged_cursor(position: str) -> str:
    return base64.urlsafe_b64encode(f"c1:{position}".encode()).decode().rstrip("=")


# Requests random generation rarely or never reaches (the ids, numbers and codes it would have to guess),
# each with the status it must answer. Validated by the same checks.
KNOWN_CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/api/v1/entries/{entry_id}", {"path_parameters": {"entry_id": entry_id("王伟")}}, 200),
    ("GET", "/api/v1/entries/{entry_id}", {"path_parameters": {"entry_id": WITHDRAWN_ID}}, 410),
    ("GET", "/api/v1/entries/{entry_id}", {"path_parameters": {"entry_id": entry_id("过期公司")}}, 410),
    ("GET", "/api/v1/subjects/{uscc}", {"path_parameters": {"uscc": USCC_A}}, 200),
    ("GET", "/api/v1/search", {"query": {"q": "王伟", "per_page": 3}}, 200),
    ("GET", "/api/v1/search", {"query": {"q": "<script>", "list_kind": "black"}}, 200),
    ("GET", "/api/v1/search", {"query": {"per_page": MAX_PER_PAGE, "page": MAX_RESULT_WINDOW // MAX_PER_PAGE + 1}},
     400),
    ("POST", "/api/v1/lookup", {"body": {"id_number": PERSON_ID}}, 200),
    ("POST", "/api/v1/check", {"body": {"subjects": [{"ref": "a", "uscc": USCC_A}, {"id_number": PERSON_ID},
                                                     {"name": "达州市王伟建材经营部"}]}}, 200),
    ("GET", "/api/v1/changes", {"query": {"limit": 3}}, 200),
    ("GET", "/api/v1/subjects/{uscc}/report", {"path_parameters": {"uscc": "91511700MA60000015"}}, 200),
    ("GET", "/api/v1/subjects/{uscc}/report", {"path_parameters": {"uscc": WRONG_CHECK_USCC}}, 422),
    ("POST", "/api/v1/reports/verify", {"body": {"report_no": "XYBG20261123AAAAAAAA", "code": "ABCDEFGHJKLM"}}, 404),
    # Regression: a forged cursor with a position beyond SQLite's INTEGER used to answer 500.
    ("GET", "/api/v1/changes", {"query": {"cursor": forged_cursor("9" * 30)}}, 400),
    ("GET", "/api/v1/changes", {"query": {"cursor": forged_cursor("١٢")}}, 400),
]


@pytest.mark.parametrize(("method", "path", "parts", "status"), KNOWN_CASES,
                         ids=[f"{m} {p} {s}" for m, p, _, s in KNOWN_CASES])
def test_known_records_conform(api_key: str, method: str, path: str, parts: dict[str, Any], status: int) -> None:
    case = schema[path][method].Case(**parts)
    response = case.call_and_validate(headers={"X-API-Key": api_key}, checks=CHECKS)
    assert response.status_code == status, response.text


def test_check_with_hits_has_every_hit_field(api_key: str) -> None:
    case = schema["/api/v1/check"]["POST"].Case(body={"subjects": [{"uscc": USCC_A}]})
    body = case.call_and_validate(headers={"X-API-Key": api_key}, checks=CHECKS).json()
    assert {hit["matched_by"] for hit in body["results"][0]["hits"]} == {"uscc"}
    assert len(body["results"][0]["hits"]) == 2


def test_refusals_by_limits_are_documented(api_key: str) -> None:
    """413 (body limit) and 429 (rate limit, with its required Retry-After) are in the schema, not only sent."""
    with tempfile.TemporaryDirectory(prefix="portal-fuzz-limits-") as raw:
        work = Path(raw)
        build_index(write_test_snapshot(work / "snapshots"), work / "index.sqlite3")
        limited_app = create_app(fuzz_settings(work, max_body_bytes=1_000, rate_search_per_minute=1,
                                               rate_person_per_minute=1, rate_burst_factor=1.0),
                                 today=lambda: TEST_TODAY)
        limited = schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", limited_app)
        key = keys.issue_key("限额", db_path=work / "keys.sqlite3")
        big_body = {"subjects": [{"name": "某" * 100} for _ in range(20)]}
        too_large = limited["/api/v1/check"]["POST"].Case(body=big_body)
        assert too_large.call_and_validate(headers={"X-API-Key": key}, checks=CHECKS).status_code == 413
        lookup = limited["/api/v1/lookup"]["POST"].Case(body={"id_number": PERSON_ID})
        statuses = [lookup.call_and_validate(checks=CHECKS).status_code for _ in range(2)]
        assert statuses == [200, 429]
        search = limited["/api/v1/search"]["GET"].Case(query={"q": "达州", "subject_type": "法人及非法人组织"})
        statuses = [search.call_and_validate(checks=CHECKS).status_code for _ in range(2)]
        assert statuses == [200, 429]
