"""What the scrubber (portal/ingest/scrub.py) costs per row of realistic department data.

    python bench/bench_scrub.py [--rows 20000]

Generates sample files (``portal sample``, CSV UTF-8), maps their headers as ingest does, and times
``scrub_row`` over every row's values with ``time.process_time`` (CPU time: the machine is shared), median of
five passes. Prints µs per row and the share of values the pre-check lets through to the patterns.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from portal.ingest.headers import map_headers
from portal.ingest.scrub import _GATE, scrub_row
from portal.ingest.validate import UNSCRUBBED_KEYS
from portal.sample import write_samples


def rows_of(directory: Path) -> list[dict[str, str | None]]:
    rows: list[dict[str, str | None]] = []
    for path in sorted(directory.glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as f:
            records = list(csv.reader(f))
        header = next(i for i, r in enumerate(records[:5]) if sum(1 for c in r if c) >= 3)
        mapping = map_headers(records[header])
        rows.extend(mapping.pick([c or None for c in record]) for record in records[header + 1:])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_samples(Path(tmp), args.rows, seed=20261123, formats=("csv-utf8",), as_of=date(2026, 11, 23),
                      invalid_share=0.03)
        rows = rows_of(Path(tmp))
    values = [v for row in rows for k, v in row.items() if v and k not in UNSCRUBBED_KEYS]
    passes = []
    for _ in range(5):
        copies = [dict(row) for row in rows]
        started = time.process_time()
        for row in copies:
            scrub_row(row, UNSCRUBBED_KEYS)
        passes.append(time.process_time() - started)
    median = statistics.median(passes)
    gated = sum(1 for v in values if _GATE.search(v)) / len(values)
    print(f"{len(rows):,} rows, {len(values):,} scrubbed values: {median / len(rows) * 1e6:.1f} µs per row "
          f"(median of 5, CPU time); {gated:.1%} of values pass the pre-check")


if __name__ == "__main__":
    main()
