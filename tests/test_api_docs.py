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


def test_site_search_page_knows_the_result_windows() -> None:
    """The search page caps its pager at the API's result windows; a drift would offer pages that fail."""
    import re
    from pathlib import Path

    from search_api.settings import MAX_PERSON_RESULT_WINDOW, MAX_RESULT_WINDOW

    script = (Path(__file__).resolve().parents[1] / "theme" / "static" / "js" / "search.js").read_text()
    assert re.search(r"var MAX_WINDOW = (\d+);", script).group(1) == str(MAX_RESULT_WINDOW)  # type: ignore[union-attr]
    assert re.search(r"var MAX_PERSON_WINDOW = (\d+);", script).group(1) == str(  # type: ignore[union-attr]
        MAX_PERSON_RESULT_WINDOW)
