"""Build the site in-process: ``build_site(overrides)`` loads pelicanconf.py and runs Pelican once."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pelican import Pelican
from pelican.settings import read_settings

ROOT = Path(__file__).resolve().parents[2]


def build_site(overrides: dict[str, Any] | None = None, settings_file: Path = ROOT / "pelicanconf.py") -> Any:
    """Run one Pelican build; returns the Pelican instance (``.settings``, ``.output_path``)."""
    settings = read_settings(str(settings_file), override=overrides or {})
    pelican = Pelican(settings)
    pelican.run()
    return pelican


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the static portal (Pelican + our plugin + Pagefind).")
    parser.add_argument("--publish", action="store_true", help="use publishconf.py (absolute public URLs)")
    parser.add_argument("--snapshot", help="snapshot directory (default: setting PORTAL_SNAPSHOT)")
    parser.add_argument("--output", help="output directory (default: output/)")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.snapshot:
        overrides["PORTAL_SNAPSHOT"] = args.snapshot
    if args.output:
        overrides["OUTPUT_PATH"] = args.output
    build_site(overrides, ROOT / ("publishconf.py" if args.publish else "pelicanconf.py"))


if __name__ == "__main__":
    main()
