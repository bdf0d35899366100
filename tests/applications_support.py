"""Shared set-up of the applications tests: a real index, real attachment bytes, a store on SQLite or on the
real PostgreSQL server of tests/pg.py (a fresh database per test)."""

from __future__ import annotations

import io
import secrets
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from portal.applications.challenge import solve

# Real file beginnings: what a browser uploads from a scanner or a phone.
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def docx(*, macro: bool = False) -> bytes:
    """A minimal Word document (python-docx writes a real one; this is the part list the check reads)."""
    from docx import Document

    buffer = io.BytesIO()
    Document().save(buffer)
    if not macro:
        return buffer.getvalue()
    # A macro-enabled document renamed to .docx: same parts plus a VBA project.
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0macro")
    return out.getvalue()


def uscc(body17: str) -> str:
    from stdnum.cn import uscc as stdnum_uscc

    return body17 + stdnum_uscc.calc_check_digit(body17)


def fresh_postgres_url(server_url: str) -> str:
    name = "apps_" + secrets.token_hex(6)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def form_fields(client: Any, entry_id: str, *, kind: str = "objection", **overrides: str) -> dict[str, str]:
    """A complete, valid form (with a solved challenge from the server) for ``entry_id``."""
    challenge = client.get("/apply/v1/challenge").json()
    fields = {
        "kind": kind, "entry_id": entry_id, "applicant_type": "unit", "applicant_name": "达州市某某建筑工程有限公司",
        "applicant_code": uscc("91511700MA6200001"), "contact_name": "李明", "contact_phone": "0818-2123456",
        "contact_email": "", "grounds": "认定文书号与处罚决定书不一致，附处罚决定书复印件。", "consent": "yes",
        "challenge_token": challenge["token"], "challenge_nonce": solve(challenge["token"], challenge["bits"]),
    }
    fields.update(overrides)
    return fields


def file_part(data: bytes, name: str = "材料.pdf", content_type: str = "application/pdf") -> tuple[str, tuple[str, bytes, str]]:
    return ("attachments", (name, data, content_type))


def files_below(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*")) if p.is_file()]
