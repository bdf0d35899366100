"""Synthetic department files that look like real deliveries (``portal sample``).

``write_samples`` writes one file per department — 市场监管局, 税务局, 法院, 人社局, 发改委, a national
双公示 行政处罚 template file and one file with English headers — in the encodings departments really
use (GB18030 CSV as Excel exports it, UTF-8 CSV with or without BOM, XLSX with a title row), with valid
identifiers, entries in every lifecycle state relative to ``as_of``, realistic dirt (traditional
characters, full-width digits, stray spaces, control characters) and an exact share of invalid rows.
Same seed, rows and as_of give byte-identical files. ``sample-manifest.json`` beside them records per
file the rows, the intended invalid rows by defect and the intended lifecycle states of the valid rows.

``sensitive_values`` re-reads any such file set and returns the raw ID numbers, phones and bank
accounts it contains, for privacy leak tests.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path

from portal.public.catalogue import Catalogue, load_catalogue
from portal.sample.departments import (
    CSV_GBK,
    CSV_UTF8,
    DEPARTMENT_FILES,
    PENALTY_TEMPLATE_HEADERS,
    XLSX,
    FileSpec,
)
from portal.sample.identifiers import UniqueSerials
from portal.sample.lifecycle import STATES
from portal.sample.pools import Pools, build_pools
from portal.sample.rows import INVALID_KINDS, RowBuilder, SharedSubjects, applicable_kinds
from portal.sample.sensitive import sensitive_values
from portal.sample.subjects import SubjectFactory
from portal.sample.writers import FORMAT_SUFFIXES, XLSX_MAX_ROWS, ClosingWriter, open_writer

__all__ = [
    "COMMAND_HELP_ZH", "DEFAULT_SEED", "OPTION_HELP_ZH", "INVALID_KINDS", "MANIFEST_NAME", "PENALTY_TEMPLATE_HEADERS", "SAMPLE_FORMATS", "STATES",
    "sensitive_values", "write_samples",
]

SAMPLE_FORMATS: tuple[str, ...] = (CSV_GBK, CSV_UTF8, XLSX)
"""File formats: csv-gbk (GB18030, as Excel exports), csv-utf8 (some files with BOM), xlsx."""
DEFAULT_SEED = 20261123

# Help text for the `portal sample` command (operators read Chinese).
COMMAND_HELP_ZH = (
    "生成模拟部门报送文件（市场监管局、税务局、法院、人社局、发改委、双公示行政处罚国家标准模板、英文表头文件），"
    "含各生命周期状态、繁体字与全角字符等常见脏数据及精确比例的无效行，并在同一目录写出 sample-manifest.json。"
    "种子、行数、格式和基准日期相同时，生成的文件逐字节相同。"
)
OPTION_HELP_ZH: dict[str, str] = {
    "out_dir": "输出目录（不存在时自动创建）",
    "rows": "总行数，按各部门的常见占比分配到各文件",
    "seed": f"随机种子，默认 {DEFAULT_SEED}",
    "formats": "允许使用的文件格式，可多选：csv-gbk（GB18030，Excel 导出）、csv-utf8（部分带 BOM）、xlsx",
    "as_of": "基准日期（如 2026-11-23）：公示中、已公布、期满、异议处理中、已修复、已撤销均相对此日",
    "invalid_share": "无效行比例（精确到行），默认 0.03",
}
MANIFEST_NAME = "sample-manifest.json"
LEGAL_REP_POOL_MAX = 50_000  # people representing the enterprises of a run (one person, several firms)
PROGRESS_EVERY_ROWS = 10_000  # per-row callbacks would cost more than the rows at a million
_HASH_CHUNK = 1 << 20


def _split(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` exactly (largest remainder, ties to the earlier)."""
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [0] * len(weights)
    exact = [total * w / weight_sum for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _split_capped(total: int, weights: Sequence[int], capacity: Sequence[int]) -> list[int]:
    """Like ``_split`` but no share exceeds its capacity; the excess moves to files with room."""
    counts = [min(c, cap) for c, cap in zip(_split(total, weights), capacity, strict=True)]
    missing = total - sum(counts)
    for i in range(len(counts)):
        room = capacity[i] - counts[i]
        take = min(room, missing)
        counts[i] += take
        missing -= take
    if missing:
        raise ValueError(f"cannot place {total} invalid rows in files with room for {sum(capacity)}")
    return counts


def _skip_rows(free_index: int, taken: list[int]) -> int:
    """The row number of the ``free_index``-th row not in ``taken`` (sorted)."""
    row = free_index
    for position in taken:
        if position <= row:
            row += 1
    return row


def _choose_format(spec: FileSpec, formats: Sequence[str]) -> str:
    return next(fmt for fmt in spec.format_preference if fmt in formats)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_samples(out_dir: Path, rows: int, *, seed: int = DEFAULT_SEED, formats: Sequence[str] = SAMPLE_FORMATS,
                  as_of: date, invalid_share: float = 0.03,
                  progress: Callable[[int], None] | None = None) -> list[Path]:
    """Write realistic synthetic department files (生成模拟部门报送文件) into ``out_dir``.

    rows: total data rows over all files (split across departments by their usual share).
    seed: the same seed, rows, formats and as_of give byte-identical files.
    formats: which of csv-gbk, csv-utf8, xlsx may be used; each department file takes the first of its
        usual formats that is allowed (e.g. only csv-utf8 for a fast benchmark).
    as_of: the day lifecycle states refer to (公示中, 已公布, 期满, 异议处理中, 已修复, 已撤销).
    invalid_share: exact share of invalid rows (rounded half up to whole rows), spread over defects.
    progress: called with the number of rows written since the previous call (every 10,000 rows and at
        the end of each file), e.g. ``lambda n: bar.update(n)``.

    Returns the data files written, in department order; ``sample-manifest.json`` is written beside them.
    """
    if rows < 0:
        raise ValueError("rows must not be negative")
    if not 0 <= invalid_share <= 1:
        raise ValueError("invalid_share must lie between 0 and 1")
    unknown = [fmt for fmt in formats if fmt not in SAMPLE_FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty selection of {', '.join(SAMPLE_FORMATS)}; got {unknown}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    catalogue = load_catalogue()
    pools = build_pools(seed)
    salt = random.Random(f"{seed}:serials").randrange(2**32)
    shared_factory = SubjectFactory(random.Random(f"{seed}:shared"), pools, UniqueSerials(0, salt))
    legal_reps = shared_factory.make_legal_reps(max(50, min(LEGAL_REP_POOL_MAX, rows // 15)))
    shared = SharedSubjects(shared_factory, rows)
    file_rows = _split(rows, [spec.weight for spec in DEPARTMENT_FILES])
    invalid_total = int(rows * invalid_share + 0.5)
    capacity = [max(0, n - len(spec.forced)) for spec, n in zip(DEPARTMENT_FILES, file_rows, strict=True)]
    file_invalid = _split_capped(invalid_total, file_rows, capacity)

    written: list[Path] = []
    entries: list[dict[str, object]] = []
    for stream, (spec, n, n_invalid) in enumerate(zip(DEPARTMENT_FILES, file_rows, file_invalid, strict=True), 1):
        if n == 0:
            continue
        fmt = _choose_format(spec, formats)
        title = spec.title.format(year=as_of.year) if spec.title and fmt == XLSX else None
        if fmt == XLSX and n + 1 + bool(title) > XLSX_MAX_ROWS:
            raise ValueError(f"{spec.stem}: {n} rows exceed the XLSX sheet limit of {XLSX_MAX_ROWS} rows")
        path = out_dir / f"{spec.stem}-{as_of:%Y%m}{FORMAT_SUFFIXES[fmt]}"
        entry = _write_file(path, spec, fmt, title, n, n_invalid, seed=seed, as_of=as_of, catalogue=catalogue,
                            pools=pools, serials=UniqueSerials(stream, salt), legal_reps=legal_reps, shared=shared,
                            progress=progress)
        written.append(path)
        entries.append(entry)

    manifest = {
        "generator": "portal.sample",
        "format": 1,
        "seed": seed,
        "rows": rows,
        "as_of": as_of.isoformat(),
        "invalid_share": invalid_share,
        "invalid_rows": invalid_total,
        "formats": list(formats),
        "files": entries,
        "shared_subjects": _shared_summary(shared, zip(DEPARTMENT_FILES, file_rows, strict=True)),
    }
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                         encoding="utf-8")
    return written


def _write_file(path: Path, spec: FileSpec, fmt: str, title: str | None, n: int, n_invalid: int, *, seed: int,
                as_of: date, catalogue: Catalogue, pools: Pools,
                serials: UniqueSerials, legal_reps: list[tuple[str, str, str]], shared: SharedSubjects,
                progress: Callable[[int], None] | None) -> dict[str, object]:
    rng = random.Random(f"{seed}:{spec.stem}")
    kinds = applicable_kinds(spec, catalogue)
    offset = rng.randrange(len(kinds))
    forced_rows = rng.sample(range(n), min(len(spec.forced), n))
    forced = dict(zip(forced_rows, spec.forced, strict=False))
    defect_rows = sorted(_skip_rows(i, sorted(forced)) for i in rng.sample(range(n - len(forced)), n_invalid))
    defects = {row: kinds[(offset + j) % len(kinds)] for j, row in enumerate(defect_rows)}
    builder = RowBuilder(spec, catalogue, SubjectFactory(rng, pools, serials, legal_reps), shared, rng, as_of, fmt)
    header = [h for h, _ in spec.columns]
    writer = open_writer(path, fmt, header, utf8_bom=spec.utf8_bom, title=title, sheet_name=spec.sheet_name,
                         as_of=as_of)
    states: Counter[str] = Counter()
    pending = 0
    with ClosingWriter(writer, path):
        for index in range(n):
            cells, state = builder.build(index, defects.get(index), forced.get(index))
            writer.write(cells)
            if state:
                states[state] += 1
            pending += 1
            if progress and pending == PROGRESS_EVERY_ROWS:
                progress(pending)
                pending = 0
    if progress and pending:
        progress(pending)
    by_kind = Counter(defects.values())
    bom = fmt == CSV_UTF8 and spec.utf8_bom
    return {
        "file": path.name,
        "department": spec.department,
        "lists": [code for code, _ in spec.lists],
        "format": fmt,
        "kind": "xlsx" if fmt == XLSX else "csv",
        "encoding": None if fmt == XLSX else "utf-8-sig" if bom else "gb18030" if fmt == CSV_GBK else "utf-8",
        "bom": bom,
        "header_row": 2 if title else 1,
        "rows": n,
        "invalid_rows": n_invalid,
        "invalid_by_kind": {kind: by_kind[kind] for kind in INVALID_KINDS if by_kind[kind]},
        "valid_by_state": {state: states[state] for state in STATES if states[state]},
        "sha256": _sha256(path),
    }


def _shared_summary(shared: SharedSubjects, files: Iterable[tuple[FileSpec, int]]) -> dict[str, object]:
    """The subjects deliberately put on black and red lists at once (conflict rule fixtures)."""
    lists: dict[str, list[str]] = {"org": [], "person": []}
    for spec, n in files:
        for index, (code, kind) in enumerate(spec.forced):
            if index < n:
                lists["person" if kind == "person" else "org"].append(code)
    org, person = shared.first("org"), shared.first("person")
    return {
        "org": {"subject_name": org.name, "uscc": org.uscc, "lists": lists["org"]},
        "person": {"subject_name": person.name, "lists": lists["person"]},
    }
