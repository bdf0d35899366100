"""Shared test set-up: a fixed HMAC key, the PostgreSQL server fixture from tests/pg.py and the Meilisearch
server fixture from tests/meili.py."""

import os

# Tests run with a known key so digests are reproducible; production mode is tested explicitly.
os.environ.setdefault("PORTAL_HMAC_KEY", "test-only-hmac-key-0123456789abcdef")
os.environ.pop("PORTAL_ENV", None)

pytest_plugins = ["pg", "meili"]
