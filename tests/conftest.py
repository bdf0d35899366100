"""Shared test set-up: a fixed HMAC key, the PostgreSQL server fixture from tests/pg.py, the Meilisearch
server fixture from tests/meili.py, and Chromium.

Helpers the tests import: ``sitebuild`` (the fixture site, a static server, the API server, Chromium),
``pg`` (PostgreSQL) and ``meili``; pytest puts tests/ on the import path, so no test edits ``sys.path``.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest

# Tests run with a known key so digests are reproducible; production mode is tested explicitly.
os.environ.setdefault("PORTAL_HMAC_KEY", "test-only-hmac-key-0123456789abcdef")
os.environ.pop("PORTAL_ENV", None)

pytest_plugins = ["pg", "meili"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per test module (the browser tests share it)."""
    import sitebuild  # imports Pelican: only for the modules that ask for a browser

    with sitebuild.chromium() as chromium:
        yield chromium
