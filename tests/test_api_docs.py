"""docs/api.md documents every setting and every limit constant of search_api/settings.py."""

from __future__ import annotations

from pathlib import Path

from search_api import settings

DOCS = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text("utf-8")
    missing = []
    for name, field in settings.Settings.model_fields.items():
        alias = field.validation_alias
        env_names = list(getattr(alias, "choices", [])) if alias else [f"PORTAL_{name.upper()}"]
        if not any(str(env) in text for env in env_names):
            missing.append(env_names[0])
    assert missing == [], f"settings missing from docs/api.md: {missing}"


def test_every_limit_constant_is_documented() -> None:
    text = DOCS.read_text("utf-8")
    constants = [name for name in vars(settings) if name.isupper() and not name.startswith("_")]
    assert "MAX_PER_PAGE" in constants
    assert [name for name in constants if f"`{name}`" not in text] == []
