"""The one error a reader raises when a whole source cannot be used."""

from __future__ import annotations


class SourceError(Exception):
    """A whole source cannot be read (or used): the file or database is refused as a whole.

    ``message_zh`` is what the operator reads; ``message_en`` is for logs and developers. Neither ever holds
    a password or a raw personal identifier.
    """

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en
