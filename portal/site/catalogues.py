"""The measures of a snapshot (its measures.json, from portal/data/measures.toml) and the forms register
(content/forms/forms.toml), as small frozen records for the templates.

Both come from data files other people maintain; the loaders fail with the file and the offending item
named, because a build that silently drops a measure or a form would publish a wrong page.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from portal.public import measures as public_measures
from portal.public.measures import MEASURE_TYPES
from portal.public.snapshot import MEASURES, file_sha256, read_measures

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


def measures_from_public(public: dict[str, Any]) -> dict[str, list[Measure]]:
    """Measures by list code from the public form (``portal.public.measures``)."""
    return {code: [Measure(list_code=code, kind=MEASURE_TYPES[item["type"]], content=item["text"],
                           mandatory=bool(item["mandatory"]), basis=item["basis"], department=item["department"])
                   for item in items]
            for code, items in public.get("measures", {}).items()}


def load_measures(path: Path) -> dict[str, list[Measure]]:
    """Measures by list code from ``[[measures.<CODE>]]`` tables. A missing file gives no measures."""
    return measures_from_public(public_measures.load_measures(path))


def snapshot_measures(version_dir: Path, fallback: Path) -> dict[str, list[Measure]]:
    """The measures the snapshot carries, so that pages show those of their own version (and a rollback
    rolls them back); a snapshot written before measures.json existed falls back to the file."""
    if (version_dir / MEASURES).exists():
        return measures_from_public(read_measures(version_dir))
    return load_measures(fallback)


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
