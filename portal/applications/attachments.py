"""Attachments: the type is read from the bytes (never the name or the browser's Content-Type), stored
under a random name in the private attachment directory, outside every published directory."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from portal.applications.settings import MAX_ATTACHMENT_BYTES, MAX_FILENAME_LENGTH

# What the bytes may be, and the suffix each is stored and offered to the operator with.
MEDIA_TYPES = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
ACCEPTED_ZH = "PDF、JPG、PNG 或 DOCX"
# A DOCX is a ZIP with these parts; a macro-enabled document (.docm renamed) has a VBA project.
_DOCX_REQUIRED = {"[Content_Types].xml", "word/document.xml"}
_DOCX_FORBIDDEN_MARKERS = (b"macroEnabled", b"vbaProject")
_DOCX_MAX_MEMBERS = 2_000  # a real document has dozens of parts; thousands is a crafted archive


class AttachmentError(ValueError):
    def __init__(self, code: str, message_zh: str) -> None:
        super().__init__(code)
        self.code = code
        self.message_zh = message_zh


def sniff(data: bytes) -> str | None:
    """The media type the bytes really are (one of MEDIA_TYPES), or None."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"PK\x03\x04") and _is_docx(data):
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    return None


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if len(names) > _DOCX_MAX_MEMBERS or not set(names) >= _DOCX_REQUIRED:
                return False
            if any(name.lower().endswith("vbaproject.bin") for name in names):
                return False
            with archive.open("[Content_Types].xml") as part:
                types = part.read(256 * 1024)
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, ValueError):
        return False
    return not any(marker in types for marker in _DOCX_FORBIDDEN_MARKERS)


def clean_filename(name: str | None, media_type: str) -> str:
    """The original name for the operator's list: no path, no control characters, bounded, right suffix."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .") or "附件"
    stem = base.rsplit(".", 1)[0] if "." in base else base
    suffix = MEDIA_TYPES[media_type]
    return stem[: MAX_FILENAME_LENGTH - len(suffix)] + suffix


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    filename: str
    media_type: str
    size: int
    sha256: str


def check(data: bytes, index: int) -> str:
    """The media type of attachment number ``index`` (1-based), or AttachmentError with a Chinese message."""
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentError("attachment_too_large",
                              f"第{index}个附件超过 {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB，请压缩或分开上传")
    if not data:
        raise AttachmentError("attachment_empty", f"第{index}个附件是空文件")
    media_type = sniff(data)
    if media_type is None:
        raise AttachmentError("attachment_type",
                              f"第{index}个附件的文件内容不是 {ACCEPTED_ZH}（按文件内容判断，与文件名无关）")
    return media_type


class AttachmentDir:
    """The private directory of attachment files (0700, files 0600)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, data: bytes, filename: str | None, media_type: str) -> StoredFile:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        stored_name = secrets.token_hex(16) + MEDIA_TYPES[media_type]
        tmp = self.root / f".{stored_name}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / stored_name)
        return StoredFile(stored_name, clean_filename(filename, media_type), media_type, len(data),
                          hashlib.sha256(data).hexdigest())

    def path(self, stored_name: str) -> Path:
        if "/" in stored_name or stored_name.startswith("."):
            raise ValueError("bad stored name")
        return self.root / stored_name

    def delete(self, stored_name: str) -> None:
        self.path(stored_name).unlink(missing_ok=True)
