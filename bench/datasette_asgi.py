"""Datasette as an ASGI factory, so that uvicorn can run it with several workers (``datasette serve`` has no
``--workers``): ``uvicorn --factory datasette_asgi:app --workers 2`` with env BENCH_DATASETTE_DB.

The database is opened immutable (the equivalent of ``datasette serve -i data.db``); settings are Datasette's
defaults, the same as the one-worker ``datasette serve`` run.
"""

from __future__ import annotations

import os
from typing import Any

from datasette.app import Datasette


def app() -> Any:
    return Datasette(immutables=[os.environ["BENCH_DATASETTE_DB"]]).app()
