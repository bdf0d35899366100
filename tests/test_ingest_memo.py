"""The ingest memo: an import that takes unchanged rows from the memo writes the same snapshot as one that
validates every row, re-evaluates every entry's lifecycle, and keeps nothing raw."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest
import sitebuild

from portal.ingest.ingest_memo import MEMO_FILE
from portal.ingest.masking import load_policy
from portal.ingest.pipeline import SourceSpec, run_ingest

KEY = b"test-only-hmac-key-0123456789abcdef"
AS_OF = date(2026, 11, 23)
COMPARED = ("entries.jsonl", "withdrawn.jsonl", "rejects.csv", "changes.jsonl", "catalogue.json")


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from portal.sample import write_samples

    return write_samples(tmp_path_factory.mktemp("in"), 1500, as_of=AS_OF, formats=("csv-gbk", "csv-utf8"))


def public_files(version_dir: Path) -> dict[str, list[bytes]]:
    """The snapshot's files line by line, with the import time (different on every run) blanked."""
    out = {}
    for name in COMPARED:
        lines = (version_dir / name).read_bytes().splitlines()
        if name == "entries.jsonl":
            lines = [orjson.dumps({**(e := orjson.loads(x)), "source": {**e["source"], "imported_at": ""}})
                     for x in lines]
        out[name] = lines
    return out


def valid_rows(manifest: dict) -> int:
    counts = manifest["counts"]
    return counts["rows_read"] - counts["rejected"]


@pytest.mark.parametrize("workers", [1, 2])
def test_import_from_the_memo_writes_the_same_snapshot_as_a_cold_one(
        sample_files: list[Path], tmp_path: Path, workers: int) -> None:
    sources = [SourceSpec(str(p)) for p in sample_files]
    cold = run_ingest(sources, tmp_path / "cold", as_of=AS_OF, key=KEY, workers=workers, memo=False)
    assert not (tmp_path / "cold" / MEMO_FILE).exists()

    first = run_ingest(sources, tmp_path / "warm", as_of=AS_OF, key=KEY, workers=workers)
    assert first.memo is not None and first.memo["hits"] == 0
    # A fresh snapshot root holding only the memo: same inputs, same "previous" (none), so same files.
    (tmp_path / "again").mkdir()
    shutil.copy(tmp_path / "warm" / MEMO_FILE, tmp_path / "again" / MEMO_FILE)
    again = run_ingest(sources, tmp_path / "again", as_of=AS_OF, key=KEY, workers=workers)

    assert again.memo is not None
    # Every valid row but the duplicates' later copies… all rows that validated came from the memo.
    assert again.memo["validated"] == 0
    assert again.memo["hits"] == first.memo["validated"] > 0
    assert public_files(again.version_dir) == public_files(cold.version_dir)
    assert again.manifest["counts"] == cold.manifest["counts"]


def test_changed_rows_are_validated_and_expiry_is_still_evaluated_for_memo_rows(
        sample_files: list[Path], tmp_path: Path) -> None:
    sources = [SourceSpec(str(p)) for p in sample_files]
    run_ingest(sources, tmp_path / "s", as_of=AS_OF, key=KEY, workers=1)
    # Edit the facts of one published row: only that row is validated again, its old outcome is dropped.
    target = sample_files[0]
    text = target.read_bytes().decode("gb18030")
    header, first_row, rest = text.split("\r\n", 2)
    edited = tmp_path / target.name
    edited.write_bytes("\r\n".join((header, first_row.replace("，", "，（已更正）", 1), rest)).encode("gb18030"))
    assert edited.read_bytes() != target.read_bytes()
    changed = [SourceSpec(str(edited)), *sources[1:]]

    later = AS_OF + timedelta(days=400)  # many entries expire in between
    warm = run_ingest(changed, tmp_path / "s", as_of=later, key=KEY, workers=1)
    cold = run_ingest(changed, tmp_path / "c", as_of=later, key=KEY, workers=1, memo=False)
    assert warm.memo is not None
    assert warm.memo["validated"] == 1 and warm.memo["dropped"] == 1
    assert warm.memo["hits"] == valid_rows(warm.manifest) - 1
    # Lifecycle was evaluated on the later day for memo rows too: the same entries are public as in a cold
    # import of that day, and the entries that expired since are withdrawn, not left public.
    assert public_files(warm.version_dir)["entries.jsonl"] == public_files(cold.version_dir)["entries.jsonl"]
    assert warm.manifest["counts"] == cold.manifest["counts"]
    assert warm.manifest["changes"]["withdrawn"] > 0


def test_a_new_policy_version_starts_with_an_empty_memo(sample_files: list[Path], tmp_path: Path) -> None:
    sources = [SourceSpec(str(p)) for p in sample_files]
    run_ingest(sources, tmp_path / "s", as_of=AS_OF, key=KEY, workers=1)
    policy = replace(load_policy(), version="test-changed-policy", _cache={})
    result = run_ingest(sources, tmp_path / "s", as_of=AS_OF, key=KEY, workers=1, policy=policy)
    assert result.memo is not None and result.memo["hits"] == 0 and result.memo["validated"] > 0
    # Outcomes under the old policy are gone: the memo holds only what this import used.
    assert result.memo["dropped"] == result.memo["validated"]
    with sqlite3.connect(tmp_path / "s" / MEMO_FILE) as db:
        assert db.execute("SELECT count(*) FROM memo").fetchone()[0] == result.memo["validated"]


def test_the_memo_holds_no_raw_identifier(sample_files: list[Path], tmp_path: Path) -> None:
    from portal.sample import sensitive_values  # the raw ID numbers, phones and accounts the sample holds

    run_ingest([SourceSpec(str(p)) for p in sample_files], tmp_path / "s", as_of=AS_OF, key=KEY, workers=1)
    memo = (tmp_path / "s" / MEMO_FILE).read_bytes()
    raw = sensitive_values(sample_files)
    assert raw
    leaked = [v for v in raw if v.encode() in memo]
    assert leaked == []


def test_cold_and_incremental_publish_of_the_same_data_give_the_same_files(
        sample_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The nightly path (memo, entry slots reused) publishes exactly what a cold publish does."""
    from datetime import datetime

    from portal.public import snapshot as snap
    from portal.release.publish import Layout, publish
    from portal.settings import SHANGHAI

    # One clock for both publishes: the import time is written into every entry's provenance.
    monkeypatch.setattr(snap, "now_shanghai", lambda: datetime(2026, 11, 24, 2, 0, tzinfo=SHANGHAI))
    sources = [SourceSpec(str(p)) for p in sample_files]
    day = AS_OF + timedelta(days=1)
    cold, warm = Layout(tmp_path / "cold"), Layout(tmp_path / "warm")
    publish(sources, cold, as_of=day, key=KEY)
    publish(sources, warm, as_of=AS_OF, key=KEY)
    record = publish(sources, warm, as_of=day, key=KEY)
    assert record["memo"]["validated"] == 0 and record["memo"]["hits"] > 0

    cold_snap, warm_snap = (layout.snapshots / "latest" for layout in (cold, warm))
    for name in ("entries.jsonl", "withdrawn.jsonl", "rejects.csv", "catalogue.json"):
        assert (warm_snap / name).read_bytes() == (cold_snap / name).read_bytes(), name
    cold_site, warm_site = (sitebuild.files_under(layout.current / "site") for layout in (cold, warm))
    # Allowed to differ: the change feed (changes are relative to the previous publish: the incremental one
    # saw an entry expire, the cold one saw everything added) and Pagefind's own index files, whose chunk
    # names depend on the order it finds the pages (entry pages are hard-linked between slots), and the
    # statistics page's 按时公示率: a decision is judged on time or late by the import that first brings it
    # (portal.ingest.timeliness), so a decision first imported a day earlier may be on time in one and not the other.
    history_dependent = {"feeds/list-changes.atom.xml", "statistics/index.html"}

    def compared(files: dict[str, bytes]) -> dict[str, bytes]:
        return {name: data for name, data in files.items()
                if not name.startswith("pagefind/") and name not in history_dependent}

    assert compared(warm_site) == compared(cold_site)
    assert len(compared(cold_site)) > 100  # the entry pages, through the slot links

def test_a_nightly_publish_of_unchanged_data_renders_no_page_again(sample_files: list[Path], tmp_path: Path) -> None:
    """The import time in each entry's provenance changes on every publish; no page shows it, so no page
    may be rendered again because of it."""
    from portal.release.publish import SLOT_STORE_DIR, Layout, publish, release_info
    from portal.site.store import REPORT_FILE

    layout = Layout(tmp_path / "var")
    sources = [SourceSpec(str(p)) for p in sample_files[:1]]
    for _ in range(3):  # slot a, slot b (linked from a), slot a again
        record = publish(sources, layout, as_of=AS_OF, key=KEY)
    slot = layout.entry_slot(release_info(layout.releases / record["release"])["entry_slot"])
    report = orjson.loads((slot / SLOT_STORE_DIR / REPORT_FILE).read_bytes())
    assert report["reused"] > 100 and report["rendered"] == 0 and report["linked"] == 0, report
