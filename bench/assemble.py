"""Assemble docs/benchmarks.md from the result files the bench scripts write (bench/results/*.md)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("ingest", "publish", "search", "site", "load", "report", "meili")  # pipeline, publish, API, site, hardening, report, Meilisearch
INTRO = """# Benchmarks

Every figure below comes from a script in `bench/` (the command is given with each), run on this project's
machine kind (2 cores, 24 GiB, shared with other work: ratios are taken within one run, peers side by side).
This page is assembled from `bench/results/*.md` by `python bench/assemble.py`.
"""


def demote(markdown: str) -> str:
    """Each result file's headings one level down, under this page's title."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def main() -> None:
    parts = [INTRO]
    for name in ORDER:
        path = ROOT / "bench" / "results" / f"{name}.md"
        if path.exists():
            parts.append(demote(path.read_text(encoding="utf-8")))
    (ROOT / "docs" / "benchmarks.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
