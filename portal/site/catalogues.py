"""The measures catalogue (portal/data/measures.toml) and the forms register (content/forms/forms.toml).

Both are data files other people maintain; the loaders read them into small frozen records and fail with
the file and the offending item named, because a build that silently drops a measure or a form would
publish a wrong page.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from portal.public.snapshot import file_sha256

FILE_TYPES = {".docx": "DOCX", ".doc": "DOC", ".pdf": "PDF", ".xlsx": "XLSX", ".xls": "XLS", ".wps": "WPS",
              ".odt": "ODT", ".zip": "ZIP"}


@dataclass(frozen=True)
class Measure:
    """One joint incentive or punishment measure (联合奖惩措施)."""

    list_code: str
    kind: str  # 守信激励 / 失信惩戒
    content: str
    mandatory: bool  # 强制性 (True) or 推荐性 (False)
    basis: str
    department: str

    @property
    def mandatory_label(self) -> str:
        return "强制性" if self.mandatory else "推荐性"


@dataclass(frozen=True)
class FormFile:
    """One downloadable form, with facts about the real file computed at build time."""

    key: str  # the form's id, shared by its DOCX and PDF versions
    title: str
    description: str
    file_name: str
    file_type: str
    size: int
    sha256: str
    updated: date
    url: str  # site-relative, e.g. forms/xinyong-xiufu-shenqingshu.docx
    applies_to: str  # slug of the guide page or policy the form belongs to ("" for none)


MEASURE_TYPES = {"incentive": "守信激励", "punishment": "失信惩戒"}


def load_measures(path: Path) -> dict[str, list[Measure]]:
    """Measures by list code from ``[[measures.<CODE>]]`` tables. A missing file gives no measures."""
    if not path.exists():
        return {}
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    by_list: dict[str, list[Measure]] = {}
    for code, items in raw.get("measures", {}).items():
        measures = []
        for item in items:
            if not item.get("text") or item.get("type") not in MEASURE_TYPES:
                raise ValueError(f"{path}: measure of {code} needs text and type incentive|punishment: {item}")
            measures.append(Measure(
                list_code=code, kind=MEASURE_TYPES[item["type"]], content=item["text"],
                mandatory=bool(item.get("mandatory", False)), basis=str(item.get("basis", "")),
                department=str(item.get("department", ""))))
        by_list[code] = measures
    return by_list


def load_forms(path: Path, url_prefix: str = "forms/") -> list[FormFile]:
    """The forms register with size and SHA-256 of each real file (beside the register)."""
    if not path.exists():
        return []
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    forms: list[FormFile] = []
    for item in raw.get("form", raw.get("forms", [])):
        file_name = item["file"]
        file_path = path.parent / file_name
        if not file_path.is_file():
            raise FileNotFoundError(f"{path}: form {item.get('title')!r} names {file_name}, which does not exist")
        updated = item.get("date") or item.get("updated")
        forms.append(FormFile(
            key=str(item.get("form") or item.get("id") or file_path.stem), title=item["title"],
            description=str(item.get("description", "")), file_name=file_name,
            file_type=str(item.get("format") or FILE_TYPES.get(file_path.suffix.lower(),
                                                                file_path.suffix.lstrip(".").upper())),
            size=file_path.stat().st_size, sha256=file_sha256(file_path),
            updated=updated if isinstance(updated, date) else date.fromisoformat(str(updated)),
            url=f"{url_prefix}{file_name}", applies_to=str(item.get("applies_to", ""))))
    return forms


def forms_by_page(forms: list[FormFile]) -> dict[str, list[FormFile]]:
    """Forms grouped by the slug of the page or policy they belong to."""
    grouped: dict[str, list[FormFile]] = defaultdict(list)
    for form in forms:
        if form.applies_to:
            grouped[form.applies_to].append(form)
    return dict(grouped)
