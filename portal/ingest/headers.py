"""Header mapping: which column of a department file holds which canonical key.

The variants are data (``portal/data/headers.toml``, extendable by operators); this module only normalises
headers, looks them up, recognises the national 双公示 templates and their older layouts, and says which
required columns are missing. Per-row checks belong to the validator.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from portal.ingest.errors import SourceError

REQUIRED_KEYS: tuple[str, ...] = ("subject_name", "subject_type", "decision_date")
# Either column names the list; a template (XZCF / XZXK) names it by itself.
LIST_KEYS: tuple[str, ...] = ("list_code", "list_name")
JOIN_SEPARATOR = "；"
DEFAULT_HEADERS_FILE = Path(__file__).parents[1] / "data" / "headers.toml"

_WHITESPACE = re.compile(r"\s+")
# A trailing bracketed unit or comment: 罚款金额(万元), 主体名称[必填], 金额【元】, 文号〔注〕.
_TRAILING_BRACKET = re.compile(r"(?:\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕)$")
# Code columns of the 双公示 templates whose bracket says what the code is (行政相对人代码_5(居民身份证号)).
_CODE_STEM = re.compile(r"^行政相对人代码_?\d$")


def normalise_header(h: str) -> str:
    """Canonical spelling of a header for lookup.

    NFKC folds full-width brackets, letters and digits to half width; whitespace anywhere is dropped
    (Excel headers carry stray spaces and line breaks); leading/trailing ``*`` marks a required column in
    many templates; ASCII letters are case-folded so English keys match in any case.
    """
    text = unicodedata.normalize("NFKC", h)
    text = _WHITESPACE.sub("", text).replace("\ufeff", "").strip("*")
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)


def _strip_trailing_bracket(normalised: str) -> tuple[str, str] | None:
    """Split ``stem(comment)`` into (stem, comment); None when there is no trailing bracket."""
    match = _TRAILING_BRACKET.search(normalised)
    if match is None or match.start() == 0:
        return None
    return normalised[: match.start()], match.group()[1:-1]


@dataclass(frozen=True)
class Template:
    code: str
    name: str
    when_any: tuple[frozenset[str], ...]


@dataclass(frozen=True)
class Layout:
    name: str
    template: str
    min_markers: int
    markers: frozenset[str]
    headers: dict[str, str]
    not_required: frozenset[str]


@dataclass(frozen=True)
class HeaderTable:
    """The loaded header data file: normalised header → key, plus templates and layouts."""

    lookup: dict[str, str]
    labels: dict[str, str]
    joins: dict[str, str]
    templates: tuple[Template, ...]
    layouts: tuple[Layout, ...]

    @classmethod
    def load(cls, path: Path | None = None) -> HeaderTable:
        """Load a header file (default: the packaged ``portal/data/headers.toml``).

        Raises ValueError when one header is given to two keys, so an operator's edit that makes the
        mapping ambiguous fails loudly instead of silently picking one.
        """
        raw = Path(path or DEFAULT_HEADERS_FILE).read_text(encoding="utf-8")
        data = tomllib.loads(raw)
        lookup: dict[str, str] = {}
        labels: dict[str, str] = {}

        def register(header: str, key: str) -> None:
            normalised = normalise_header(header)
            previous = lookup.setdefault(normalised, key)
            if previous != key:
                raise ValueError(f"header {header!r} is given to both {previous!r} and {key!r}")

        for key, entry in data["keys"].items():
            labels[key] = entry["label"]
            for header in (key, key.replace("_", ""), entry["label"], *entry.get("aliases", [])):
                register(header, key)
        joins = {normalise_header(h): key for h, key in data.get("joins", {}).items()}
        templates = tuple(
            Template(t["code"], t["name"],
                     tuple(frozenset(normalise_header(h) for h in group) for group in t["when_any"]))
            for t in data.get("template", [])
        )
        layouts = tuple(
            Layout(
                name=lay["name"],
                template=lay["template"],
                min_markers=int(lay["min_markers"]),
                markers=frozenset(normalise_header(h) for h in lay["markers"]),
                headers={normalise_header(h): key for h, key in lay.get("headers", {}).items()},
                not_required=frozenset(lay.get("not_required", [])),
            )
            for lay in data.get("layout", [])
        )
        for key in [*joins.values(), *(k for lay in layouts for k in lay.headers.values())]:
            if key not in labels:
                raise ValueError(f"unknown key {key!r} in joins or layout headers")
        return cls(lookup, labels, joins, templates, layouts)

    def key_for(self, header: str, layout: Layout | None = None) -> str | None:
        """The canonical key a raw header maps to, or None.

        The full form is tried first because the bracket can carry the meaning
        (行政相对人代码_1（统一社会信用代码） vs 行政相对人代码_2（工商注册号）); then, for the template code
        columns, what the bracket names; then the header without its trailing bracket (罚款金额（万元）).
        """
        normalised = normalise_header(header)
        if not normalised:
            return None
        found = self._exact(normalised, layout)
        if found is not None:
            return found
        split = _strip_trailing_bracket(normalised)
        if split is None:
            return None
        stem, comment = split
        if _CODE_STEM.match(stem):
            found = self._exact(comment, layout)
            if found is not None:
                return found
        return self._exact(stem, layout)

    def _exact(self, normalised: str, layout: Layout | None) -> str | None:
        if layout is not None and normalised in layout.headers:
            return layout.headers[normalised]
        return self.lookup.get(normalised) or self.joins.get(normalised)

    def label(self, key: str) -> str:
        return self.labels.get(key, key)


@cache
def default_table() -> HeaderTable:
    return HeaderTable.load()


@dataclass
class HeaderMapping:
    columns: dict[int, str]  # column index -> canonical key (each key at most once)
    unknown: list[str]  # raw headers that map to nothing
    duplicates: list[str]  # raw headers whose key was already taken by an earlier column (first wins)
    template: str | None  # "XZCF" / "XZXK" when the file is a national 双公示 template: the list code
    layout: str | None  # older layout, e.g. "xzcf-legacy"
    missing_required: list[str]  # canonical keys required but absent ("list_name" stands for 名单名称/名单代码)
    # Columns appended (joined with "；") to a key held by another column: 处罚类别2 → penalty_category.
    joined: dict[int, str] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)  # the raw headers mapped, for messages

    def pick(self, values: list[str | None]) -> dict[str, str | None]:
        """Key → value for one row: mapped columns, joined columns appended, unknown columns left out.

        Cells past the end of a short row count as empty.
        """
        size = len(values)
        picked = {key: (values[i] if i < size else None) for i, key in self.columns.items()}
        for i, key in self.joined.items():
            extra = values[i] if i < size else None
            if extra:
                current = picked.get(key)
                picked[key] = f"{current}{JOIN_SEPARATOR}{extra}" if current else extra
        return picked


def _header_forms(headers: list[str]) -> set[str]:
    """Every normalised header, with and without its trailing bracket, for template/layout detection."""
    forms: set[str] = set()
    for header in headers:
        normalised = normalise_header(header)
        forms.add(normalised)
        split = _strip_trailing_bracket(normalised)
        if split is not None:
            forms.add(split[0])
    return forms


def _detect_layout(forms: set[str], table: HeaderTable) -> Layout | None:
    for layout in table.layouts:
        if len(layout.markers & forms) >= layout.min_markers:
            return layout
    return None


def map_headers(headers: list[str], table: HeaderTable | None = None) -> HeaderMapping:
    """Map raw headers to canonical keys, detect a 双公示 template/layout, list missing required keys."""
    table = table or default_table()
    forms = _header_forms(headers)
    layout = _detect_layout(forms, table)

    columns: dict[int, str] = {}
    joined: dict[int, str] = {}
    unknown: list[str] = []
    duplicates: list[str] = []
    taken: set[str] = set()
    for index, header in enumerate(headers):
        key = table.key_for(header, layout)
        if key is None:
            unknown.append(header)
        elif key not in taken:
            columns[index] = key
            taken.add(key)
        elif normalise_header(header) in table.joins:
            joined[index] = key
        else:
            duplicates.append(header)

    template: str | None = None
    if not taken.intersection(LIST_KEYS):
        for candidate in table.templates:
            if any(group <= forms for group in candidate.when_any):
                template = candidate.code
                break
        if template is None and layout is not None:
            template = layout.template

    not_required = layout.not_required if layout is not None else frozenset()
    missing = [key for key in REQUIRED_KEYS if key not in taken and key not in not_required]
    if template is None and not taken.intersection(LIST_KEYS):
        missing.append("list_name")
    return HeaderMapping(
        columns=columns,
        unknown=unknown,
        duplicates=duplicates,
        template=template,
        layout=layout.name if layout is not None else None,
        missing_required=missing,
        joined=joined,
        headers=list(headers),
    )


def count_known_headers(cells: list[str], table: HeaderTable | None = None) -> int:
    """How many cells of a candidate header row map to a key (used to find the header row below a title)."""
    table = table or default_table()
    return sum(1 for cell in cells if cell and table.key_for(cell) is not None)


def _missing_label_zh(key: str, table: HeaderTable) -> str:
    if key == "list_name":
        return "名单名称（或名单代码）"
    return table.label(key)


def require_columns(mapping: HeaderMapping, source_name: str, table: HeaderTable | None = None) -> None:
    """Refuse a file whose required columns cannot be found, naming what it has and what is missing."""
    if not mapping.missing_required:
        return
    table = table or default_table()
    have = mapping.headers
    have_text = "、".join(h for h in have if h) or "（无）"
    missing_zh = "、".join(_missing_label_zh(k, table) for k in mapping.missing_required)
    missing_en = ", ".join("list_code or list_name" if k == "list_name" else k
                           for k in mapping.missing_required)
    raise SourceError(
        f"文件“{source_name}”缺少必需的列：{missing_zh}。文件中的列为：{have_text}。"
        f"请核对表头（可在 headers.toml 中为本部门的表头增加别名）后重新导入。",
        f"{source_name}: required columns missing: {missing_en}. Columns in the file: {', '.join(have)}.",
    )
