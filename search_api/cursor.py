"""The opaque keyset cursor of GET /changes: a feed position, versioned, URL-safe base64."""

from __future__ import annotations

import base64
import binascii

from search_api.errors import ApiError

# Positions in the change feed fit in 18 digits (a signed 64-bit SQLite INTEGER holds 19).
MAX_CURSOR_DIGITS = 18


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"c1:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, position = text.split(":", 1)
        # ASCII digits only (str.isdigit also accepts other scripts), and short enough for a SQLite
        # INTEGER: a forged huge position used to reach the engine and fail there with a 500.
        if prefix != "c1" or not (position.isascii() and position.isdigit()) or len(position) > MAX_CURSOR_DIGITS:
            raise ValueError(cursor)
        return int(position)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor 参数无效，请使用上一页返回的 next_cursor") from exc
