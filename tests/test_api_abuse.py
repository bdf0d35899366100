"""Abuse controls of the search API, end to end on a real snapshot and SQLite index.

Rate limits run on a virtual clock injected into ``create_app`` (an hour of traffic plays in about a second);
everything else is the real app through TestClient, and the access log test runs a real uvicorn server.
The per-hour enumeration bound is computed here from the settings and constants, independently of the
limiter's code, and the same numbers for the default settings must appear in docs/security.md.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from uvicorn.logging import AccessFormatter

from portal.ingest.identifiers import ric_check_digit
from search_api import keys
from search_api.app import create_app
from search_api.indexer import build_index
from search_api.settings import (
    MAX_CHECK_SUBJECTS,
    MAX_PAGE,
    MAX_PER_PAGE,
    MAX_PERSON_RESULT_WINDOW,
    MAX_QUERY_LENGTH,
    MAX_RESULT_WINDOW,
    Settings,
)
from search_api.testing import (
    PERSON_ID,
    TEST_HMAC_KEY,
    TEST_TODAY,
    USCC_A,
    make_entry,
    sample_entries,
    write_test_snapshot,
)

SITE = "http://127.0.0.1:8000"
SECURITY_DOC = Path(__file__).resolve().parents[1] / "docs" / "security.md"
HOUR = 3_600.0
UNLIMITED = 1_000_000

# 300 persons, all with common two-character names (100 names, three persons each), all on the same list,
# their ID numbers from one district, one birthday and every third sequence number: easy to guess.
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN_NAMES = "伟芳娜敏静丽强磊军洋"
CROWD_SIZE = 300


def crowd_number(index: int) -> str:
    body = f"51170219900101{3 * index + 1:03d}"
    return body + ric_check_digit(body)


def crowd() -> list[dict[str, Any]]:
    return [make_entry(SURNAMES[index % 10] + GIVEN_NAMES[(index // 10) % 10], list_code="SXBZXR", is_person=True,
                       raw_id=crowd_number(index), subject_type="自然人", authority="达州市中级人民法院",
                       decision_no=f"（2026）川17执{index}号", decision_date="2026-09-01")
            for index in range(CROWD_SIZE)]


class VirtualClock:
    """Seconds since the start of the attack; the test moves it, the rate limiters read it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("abuse")
    build_index(write_test_snapshot(root / "snapshots", sample_entries() + crowd()), root / "index.sqlite3")
    return root


def make_settings(work: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"index_path": work / "index.sqlite3", "api_keys_db": work / "keys.sqlite3",
                              "hmac_key": TEST_HMAC_KEY, "site_origin": SITE, "rate_search_per_minute": UNLIMITED,
                              "rate_person_per_minute": UNLIMITED, "rate_check_per_minute": UNLIMITED}
    return Settings(**{**values, **overrides})


def make_app(work: Path, clock: VirtualClock | None = None, **overrides: Any) -> FastAPI:
    return create_app(make_settings(work, **overrides), today=lambda: TEST_TODAY, clock=clock or VirtualClock())


def client_at(app: FastAPI, ip: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=(ip, 50_000))


def assert_envelope(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body["error"]) == {"code", "message"}
    assert any("\u4e00" <= char <= "\u9fff" for char in body["error"]["message"]), "message must be Chinese"
    if code:
        assert body["error"]["code"] == code
    return body


# --- the bound, from the settings alone -----------------------------------------------------------------

def requests_within(per_minute: int, burst_factor: float, seconds: float) -> float:
    """Most requests a token bucket lets one client make in ``seconds``, starting full: the bucket size
    (per-minute rate × burst factor, at least 1) plus what refills meanwhile."""
    return max(1.0, per_minute * burst_factor) + per_minute / 60 * seconds


def persons_within(settings: Settings, seconds: float) -> float:
    """Most distinct persons one client can read in ``seconds``.

    Every response that shows a person costs a token of the person bucket (/lookup, a search page with a
    person on it, a person's /entries), whatever else it costs, and shows at most MAX_PER_PAGE persons (a
    search page; /entries and /lookup show one subject). /subjects shows organisations; /changes, /lists
    and /stats show no person. /check needs an issued key and is not anonymous.
    """
    person = requests_within(settings.rate_person_per_minute, settings.rate_burst_factor, seconds)
    return person * MAX_PER_PAGE


def lookups_within(settings: Settings, seconds: float) -> float:
    """Most persons found by guessing ID numbers: one person per /lookup, person bucket only."""
    return requests_within(settings.rate_person_per_minute, settings.rate_burst_factor, seconds)


def default_settings() -> Settings:
    # Model defaults, whatever PORTAL_* variables the CI environment sets.
    return Settings.model_construct(**{name: info.default for name, info in Settings.model_fields.items()})


# --- rate limits ---------------------------------------------------------------------------------------

def test_rate_limit_is_per_client_with_retry_after(work: Path) -> None:
    clock = VirtualClock()
    app = make_app(work, clock, rate_search_per_minute=6, rate_burst_factor=1.0)  # bucket of 6, 1 per 10 s
    first, second = client_at(app, "203.0.113.7"), client_at(app, "198.51.100.9")
    assert [first.get("/api/v1/search", params={"q": "王伟"}).status_code for _ in range(6)] == [200] * 6
    refused = first.get("/api/v1/search", params={"q": "王伟"})
    assert_envelope(refused, 429, "rate_limited")
    assert refused.headers["retry-after"] == "10"
    # Every data endpoint draws on the same bucket (entry and subject pages, catalogue, stats, feed).
    for path in ("/api/v1/entries/0123456789abcdef", f"/api/v1/subjects/{USCC_A}", "/api/v1/lists",
                 "/api/v1/stats", "/api/v1/changes"):
        assert_envelope(first.get(path), 429, "rate_limited")
    assert first.get("/healthz").status_code == 200  # monitoring is never limited
    assert second.get("/api/v1/search", params={"q": "王伟"}).status_code == 200  # another client: own bucket
    clock.now += int(refused.headers["retry-after"])
    assert first.get("/api/v1/search", params={"q": "王伟"}).status_code == 200
    assert first.get("/api/v1/search", params={"q": "王伟"}).status_code == 429


def test_person_bucket_is_shared_by_lookups_and_person_searches(work: Path) -> None:
    app = make_app(work, rate_person_per_minute=3, rate_burst_factor=1.0)
    client = client_at(app, "203.0.113.7")
    assert client.post("/api/v1/lookup", json={"id_number": PERSON_ID}).status_code == 200
    assert client.get("/api/v1/search", params={"q": "王", "subject_type": "自然人"}).status_code == 200
    assert client.post("/api/v1/lookup", json={"id_number": PERSON_ID}).status_code == 200
    assert_envelope(client.get("/api/v1/search", params={"q": "王", "subject_type": "自然人"}), 429, "rate_limited")
    refused = client.post("/api/v1/lookup", json={"id_number": PERSON_ID})
    assert_envelope(refused, 429, "rate_limited")
    assert refused.headers["retry-after"] == "20"
    # Organisations only: the search bucket, untouched. A page with persons on it needs a person token.
    assert client.get("/api/v1/search", params={"q": "王", "subject_type": "法人及非法人组织"}).status_code == 200
    assert_envelope(client.get("/api/v1/search", params={"q": "王"}), 429, "rate_limited")


def test_check_is_limited_per_key(work: Path) -> None:
    app = make_app(work, rate_check_per_minute=2, rate_burst_factor=1.0)
    client = client_at(app, "203.0.113.7")
    one, other = (keys.issue_key(name, db_path=work / "keys.sqlite3") for name in ("窗口一", "窗口二"))
    payload = {"subjects": [{"uscc": USCC_A}]}
    statuses = [client.post("/api/v1/check", json=payload, headers={"X-API-Key": one}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.post("/api/v1/check", json=payload, headers={"X-API-Key": other}).status_code == 200


@pytest.mark.parametrize(("trust", "addresses", "shared"), [
    # Not behind a proxy: a forged header is ignored, the socket address counts.
    (False, ["198.51.100.1", "198.51.100.2"], True),
    # Behind a proxy that appends: the client's own prefix is forged, the last address is the proxy's view.
    (True, ["10.9.9.1, 203.0.113.7", "10.9.9.2, 203.0.113.7"], True),
    (True, ["203.0.113.7", "203.0.113.8"], False),
])
def test_forged_forwarded_for_does_not_give_a_fresh_bucket(work: Path, trust: bool, addresses: list[str],
                                                           shared: bool) -> None:
    app = make_app(work, rate_search_per_minute=1, rate_burst_factor=1.0, trust_forwarded_for=trust)
    client = client_at(app, "192.0.2.1")
    first, second = (client.get("/api/v1/search", params={"q": "王伟"}, headers={"X-Forwarded-For": address})
                     for address in addresses)
    assert first.status_code == 200
    assert second.status_code == (429 if shared else 200)


def test_ipv6_clients_are_limited_per_64(work: Path) -> None:
    app = make_app(work, rate_search_per_minute=1, rate_burst_factor=1.0)
    assert client_at(app, "2001:db8:1:2::1").get("/api/v1/search").status_code == 200
    assert client_at(app, "2001:db8:1:2:ffff::9").get("/api/v1/search").status_code == 429  # same /64
    assert client_at(app, "2001:db8:1:3::1").get("/api/v1/search").status_code == 200  # next /64


# --- paging, query length, bulk check -------------------------------------------------------------------

def test_paging_stops_at_the_window(work: Path) -> None:
    client = client_at(make_app(work), "203.0.113.7")
    pages = MAX_RESULT_WINDOW // MAX_PER_PAGE
    assert client.get("/api/v1/search", params={"per_page": MAX_PER_PAGE, "page": pages}).status_code == 200
    assert_envelope(client.get("/api/v1/search", params={"per_page": MAX_PER_PAGE, "page": pages + 1}),
                    400, "result_window_exceeded")
    assert_envelope(client.get("/api/v1/search", params={"page": MAX_PAGE + 1}), 422, "invalid_parameter")
    # Persons: the crowd holds more than the person window, and paging one query shows at most the window.
    persons = {"subject_type": "自然人", "per_page": MAX_PER_PAGE}
    seen: set[str] = set()
    page = 1
    while True:
        response = client.get("/api/v1/search", params={**persons, "page": page})
        if response.status_code == 400:
            assert_envelope(response, 400, "result_window_exceeded")
            break
        body = response.json()
        assert body["total"]["value"] > MAX_PERSON_RESULT_WINDOW
        seen |= {hit["id"] for hit in body["hits"]}
        page += 1
    assert page == MAX_PERSON_RESULT_WINDOW // MAX_PER_PAGE + 1
    assert len(seen) == MAX_PERSON_RESULT_WINDOW


def test_query_length_is_limited(work: Path) -> None:
    client = client_at(make_app(work), "203.0.113.7")
    assert client.get("/api/v1/search", params={"q": "王" * MAX_QUERY_LENGTH}).status_code == 200
    body = assert_envelope(client.get("/api/v1/search", params={"q": "王" * (MAX_QUERY_LENGTH + 1)}),
                           422, "invalid_parameter")
    assert body["error"]["message"].endswith("q")


def test_bulk_check_needs_a_valid_unrevoked_key(work: Path) -> None:
    client = client_at(make_app(work), "203.0.113.7")
    db = work / "keys.sqlite3"
    key = keys.issue_key("市政务服务中心", db_path=db)
    revoked = keys.issue_key("已停用窗口", db_path=db)
    assert keys.revoke_key(revoked.split("_")[1], db_path=db)
    full = {"subjects": [{"ref": f"申请-{index}", "uscc": USCC_A} for index in range(MAX_CHECK_SUBJECTS)]}
    assert_envelope(client.post("/api/v1/check", json=full), 401, "api_key_required")
    assert_envelope(client.post("/api/v1/check", json=full, headers={"X-API-Key": ""}), 401, "api_key_required")
    unknown = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for guess in (unknown, "pk_00000000_" + "x" * 43, "not-a-key"):
        assert_envelope(client.post("/api/v1/check", json=full, headers={"X-API-Key": guess}), 403, "api_key_invalid")
    assert_envelope(client.post("/api/v1/check", json=full, headers={"X-API-Key": revoked}), 403, "api_key_revoked")
    accepted = client.post("/api/v1/check", json=full, headers={"X-API-Key": key})
    assert accepted.status_code == 200 and accepted.json()["checked"] == MAX_CHECK_SUBJECTS
    too_many = {"subjects": full["subjects"] + [{"uscc": USCC_A}]}
    body = assert_envelope(client.post("/api/v1/check", json=too_many, headers={"X-API-Key": key}),
                           422, "invalid_parameter")
    assert "subjects" in body["error"]["message"]


# --- enumeration of persons ----------------------------------------------------------------------------

@dataclass
class Plan:
    """One attacker's queue of requests on one bucket; paging moves on to the next query once a page is
    short or refused by the window."""

    queries: list[dict[str, Any]]
    lookups: list[str] = field(default_factory=list)
    query_index: int = 0
    page: int = 1
    allowed: int = 0

    def next_request(self) -> tuple[str, str, dict[str, Any]] | None:
        if self.query_index < len(self.queries):
            params = {**self.queries[self.query_index], "page": self.page, "per_page": MAX_PER_PAGE}
            return ("GET", "/api/v1/search", {"params": params})
        if self.lookups:
            return ("POST", "/api/v1/lookup", {"json": {"id_number": self.lookups[0]}})
        return None

    def done(self, response: httpx.Response) -> list[dict[str, Any]]:
        """Record an answered (not rate-limited) request; returns the hits it showed."""
        self.allowed += 1
        if self.query_index >= len(self.queries):
            self.lookups.pop(0)
            return list(response.json()["hits"])
        hits = response.json()["hits"] if response.status_code == 200 else []
        if response.status_code == 200 and len(hits) == MAX_PER_PAGE:
            self.page += 1
        else:
            self.query_index, self.page = self.query_index + 1, 1
        return list(hits)


def guessed_numbers() -> list[str]:
    bodies = [f"51170219900101{sequence:03d}" for sequence in range(1_000)]
    return [body + ric_check_digit(body) for body in bodies]


def attack_for_an_hour(client: TestClient, clock: VirtualClock, plans: list[Plan], settings: Settings,
                       *, bound: Any) -> dict[str, float]:
    """Run the plans against the API for one virtual hour, waiting as Retry-After says; after every
    answered request assert that no more persons were read than ``bound(settings, elapsed)``. Returns the
    persons read (entry ids; one entry per person here), each with the time it was first seen."""
    persons: dict[str, float] = {}
    while clock.now <= HOUR:
        waits = []
        for plan in plans:
            planned = plan.next_request()
            if planned is None:
                continue
            method, path, arguments = planned
            response = client.request(method, path, **arguments)
            if response.status_code == 429:
                waits.append(int(response.headers["retry-after"]))
                continue
            for hit in plan.done(response):
                if hit["is_person"]:
                    persons.setdefault(hit["id"], clock.now)
            assert len(persons) <= bound(settings, clock.now), (len(persons), clock.now)
        if not waits and all(plan.next_request() is None for plan in plans):
            break
        if waits and len(waits) == sum(plan.next_request() is not None for plan in plans):
            clock.now += min(waits)
    return persons


def test_enumerating_persons_is_bounded_per_hour(work: Path) -> None:
    # Strict limits, so that the bound bites within the 300 persons: 3 requests at once, 3 per minute after.
    clock = VirtualClock()
    settings = make_settings(work, rate_search_per_minute=2, rate_person_per_minute=1, rate_burst_factor=1.0)
    client = client_at(create_app(settings, today=lambda: TEST_TODAY, clock=clock), "203.0.113.7")
    characters = SURNAMES + GIVEN_NAMES
    search = Plan([{"q": char} for char in characters])
    person = Plan([{"q": char, "subject_type": "自然人"} for char in characters], lookups=guessed_numbers())
    persons = attack_for_an_hour(client, clock, [search, person], settings, bound=persons_within)
    crowd_ids = {entry["id"] for entry in crowd()}
    # The answers did cost tokens: no bucket answered more requests than its size plus an hour of refill.
    assert search.allowed <= requests_within(2, 1.0, HOUR) and person.allowed <= requests_within(1, 1.0, HOUR)
    assert len(persons) <= persons_within(settings, HOUR)
    # A list this small is read completely within the hour (rate limits bound speed, not totals; see
    # docs/security.md), but never faster than the bound allows: 300 persons need (300 / MAX_PER_PAGE
    # - 3 requests of burst) / 3 requests per minute = 1 minute at these settings. This attacker, one
    # surname (30 persons) per search page, needs 10 search requests: 4 minutes.
    assert crowd_ids <= set(persons)
    complete_at = max(persons[entry_id] for entry_id in crowd_ids)
    assert persons_within(settings, complete_at) >= CROWD_SIZE
    assert complete_at >= (CROWD_SIZE / MAX_PER_PAGE - 3) / 3 * 60


def test_guessing_id_numbers_is_bounded_per_hour(work: Path) -> None:
    clock = VirtualClock()
    settings = make_settings(work, rate_person_per_minute=1, rate_burst_factor=1.0)
    client = client_at(create_app(settings, today=lambda: TEST_TODAY, clock=clock), "203.0.113.7")
    guesser = Plan([], lookups=guessed_numbers())
    persons = attack_for_an_hour(client, clock, [guesser], settings, bound=lookups_within)
    allowed = int(lookups_within(settings, HOUR))
    assert guesser.allowed == allowed == 61
    # The first 61 guesses (sequence 000-060) hold every third number: 20 persons, not 300.
    assert len(persons) == len(range(1, allowed, 3)) == 20


def test_documented_bounds_match_the_default_settings() -> None:
    defaults = default_settings()
    doc = SECURITY_DOC.read_text(encoding="utf-8")
    search = requests_within(defaults.rate_search_per_minute, defaults.rate_burst_factor, HOUR)
    person = requests_within(defaults.rate_person_per_minute, defaults.rate_burst_factor, HOUR)
    for number in (search, person, persons_within(defaults, HOUR), lookups_within(defaults, HOUR),
                   MAX_RESULT_WINDOW, MAX_PERSON_RESULT_WINDOW, MAX_PER_PAGE, MAX_QUERY_LENGTH,
                   MAX_CHECK_SUBJECTS, defaults.max_body_bytes):
        assert number == int(number)
        assert f"{int(number):,}" in doc, f"{int(number):,} missing from docs/security.md"


# --- XSS via data -------------------------------------------------------------------------------------

def test_markup_in_data_is_never_served_as_markup(work: Path) -> None:
    client = client_at(make_app(work), "203.0.113.7")
    response = client.get("/api/v1/search", params={"q": "王伟商行"})
    hit = response.json()["hits"][0]
    assert hit["subject_name"] == "<script>alert(1)</script>王伟商行"  # data stays data, in JSON
    assert hit["highlights"]["subject_name"] == "&lt;script&gt;alert(1)&lt;/script&gt;<mark>王伟商行</mark>"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


# --- body size, CORS ------------------------------------------------------------------------------------

def test_ten_megabyte_body_is_refused(work: Path) -> None:
    client = client_at(create_app(make_settings(work), today=lambda: TEST_TODAY), "203.0.113.7")
    ten_mb = b'{"id_number": "' + b"1" * (10 * 1024 * 1024) + b'"}'
    declared = client.post("/api/v1/lookup", content=ten_mb, headers={"Content-Type": "application/json"})
    assert_envelope(declared, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        for start in range(0, len(ten_mb), 1024 * 1024):
            yield ten_mb[start:start + 1024 * 1024]

    streamed = client.post("/api/v1/lookup", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert_envelope(streamed, 413, "payload_too_large")
    key = keys.issue_key("大包", db_path=work / "keys.sqlite3")
    big_check = client.post("/api/v1/check", content=chunks(), headers={"Content-Type": "application/json",
                                                                        "X-API-Key": key})
    assert_envelope(big_check, 413, "payload_too_large")


def test_cors_allows_only_the_configured_origin(work: Path) -> None:
    client = client_at(make_app(work), "203.0.113.7")
    allowed = client.get("/api/v1/search", params={"q": "王伟"}, headers={"Origin": SITE})
    assert allowed.headers["access-control-allow-origin"] == SITE
    assert "origin" in allowed.headers["vary"].lower()
    for origin in ("http://evil.example", "null", SITE + ".evil.example", "https://127.0.0.1:8000"):
        simple = client.get("/api/v1/search", params={"q": "王伟"}, headers={"Origin": origin})
        assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers
        preflight = client.options("/api/v1/lookup", headers={"Origin": origin,
                                                               "Access-Control-Request-Method": "POST"})
        assert_envelope(preflight, 400, "cors_refused")
        assert "access-control-allow-origin" not in preflight.headers
    preflight = client.options("/api/v1/check", headers={"Origin": SITE, "Access-Control-Request-Method": "POST",
                                                          "Access-Control-Request-Headers": "X-API-Key"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == SITE


# --- access log ---------------------------------------------------------------------------------------

@pytest.fixture
def served(work: Path) -> Iterator[str]:
    """The app under a real uvicorn server on a free loopback port; yields its base URL."""
    app = create_app(make_settings(work), today=lambda: TEST_TODAY)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=True,
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Both access logs as they are written: ours in its own format, uvicorn's with its AccessFormatter."""
    stream = io.StringIO()
    ours = logging.StreamHandler(stream)
    ours.setFormatter(logging.Formatter("%(name)s %(message)s"))
    theirs = logging.StreamHandler(stream)
    theirs.setFormatter(AccessFormatter('%(name)s %(client_addr)s - "%(request_line)s" %(status_code)s',
                                        use_colors=False))
    loggers = [(logging.getLogger("search_api.access"), ours), (logging.getLogger("uvicorn.access"), theirs)]
    levels = [logger.level for logger, _ in loggers]
    for logger, handler in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield stream
    for (logger, handler), level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_access_logs_never_contain_an_id_number(work: Path, served: str, captured_logs: io.StringIO) -> None:
    number = PERSON_ID
    key = keys.issue_key("日志", db_path=work / "keys.sqlite3")
    with httpx.Client(base_url=served, timeout=10) as http:
        answers = [
            http.get("/api/v1/search", params={"q": number}),
            http.get("/api/v1/search", params={"q": number.lower(), "list_kind": "black", "page": 1}),
            http.get("/api/v1/search", params={"list_code": number, "page": number}),  # "non-personal" filters
            http.get(f"/api/v1/search?{number}"),
            http.get(f"/api/v1/subjects/{number}"),
            http.get(f"/api/v1/entries/{number}"),
            http.get(f"/nowhere/{number[:6]}%20{number[6:]}"),
            http.post("/api/v1/lookup", json={"id_number": number}),
            http.post("/api/v1/lookup", json={"id_number": number, "unexpected": number}),
            http.post("/api/v1/check", json={"subjects": [{"id_number": number}]}, headers={"X-API-Key": key}),
        ]
    assert [answer.status_code for answer in answers] == [200, 200, 422, 200, 404, 404, 404, 200, 422, 200]
    assert answers[7].json()["total"] == 1  # the number did reach the lookup
    deadline = time.monotonic() + 5  # both lines are written after the response has been sent
    while (min(captured_logs.getvalue().count(name) for name in ("uvicorn.access", "search_api.access"))
           < len(answers) and time.monotonic() < deadline):
        time.sleep(0.02)
    log = captured_logs.getvalue()
    lines = log.splitlines()
    assert sum(line.startswith("search_api.access") for line in lines) == len(answers)
    assert sum(line.startswith("uvicorn.access") for line in lines) == len(answers)
    assert "/api/v1/lookup" in log and "q=<18>" in log and "list_kind=black" in log
    for form in (number, number.lower(), number[:17], number[6:14] + number[14:17]):
        assert form not in log, f"{form} leaked into the access log:\n{log}"
