"""Hostile department files through ``portal publish`` (the CLI, as operators run it).

Each file is published together with a good file into a copy of a deployment that already has a live
release. The outcome must be a clear Chinese message or rejected rows — never a traceback, never a hang
(every run is bounded by a timeout), never a partial publish: after a failure the live release and the
snapshots' ``latest`` are byte-identical and no temporary directory is left behind.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from openpyxl import Workbook
from stdnum.cn import uscc as stdnum_uscc

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-23"
PUBLISH_TIMEOUT_S = 120  # a hang fails the test instead of blocking CI
HEADER = ["主体名称", "主体类别", "统一社会信用代码", "名单名称", "认定日期", "认定部门", "认定文书号"]
STRAY_PATTERNS = {"releases": (".tmp-*",), "snapshots": (".tmp-*", ".stage-*", ".latest-*"), ".": (".current-*",)}


def organisation_row(n: int, name: str | None = None) -> list[str]:
    body = f"91511700MA62{n:05d}"
    return [name or f"达州市测试{n}建材有限公司", "法人及非法人组织", body + stdnum_uscc.calc_check_digit(body),
            "严重违法失信企业名单", "2026-01-05", "达州市市场监督管理局", f"达市监〔2026〕{n}号"]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def run_portal(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "portal.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=PUBLISH_TIMEOUT_S)


def tree_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file below ``root`` (symlinks followed), by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def stray_temporaries(var: Path) -> list[Path]:
    found: list[Path] = []
    for sub, patterns in STRAY_PATTERNS.items():
        for pattern in patterns:
            found.extend((var / sub).glob(pattern))
    return found


@dataclass
class Deployment:
    """A var directory with one live release, and what its live state looked like."""

    var: Path
    inbox: Path

    def live_state(self) -> tuple[str, str, dict[str, str]]:
        current = (self.var / "current").resolve()
        latest = (self.var / "snapshots" / "latest").resolve()
        return current.name, latest.name, {**tree_digest(current), **{f"snapshot/{k}": v for k, v in
                                                                        tree_digest(latest).items()}}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("hostile-files-base")
    good = write_csv(work / "good.csv", [HEADER, *(organisation_row(n) for n in range(1, 6))])
    result = run_portal("publish", str(good), "--var", str(work / "var"), "--as-of", AS_OF, cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    return work


@pytest.fixture
def deployment(baseline: Path, tmp_path: Path) -> Deployment:
    shutil.copytree(baseline / "var", tmp_path / "var", symlinks=True)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(baseline / "good.csv", inbox / "good.csv")
    return Deployment(tmp_path / "var", inbox)


def publish(deployment: Deployment, hostile: Path) -> subprocess.CompletedProcess[str]:
    return run_portal("publish", str(deployment.inbox / "good.csv"), str(hostile), "--var", str(deployment.var),
                      "--as-of", AS_OF, cwd=deployment.inbox)


def assert_no_crash(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert result.returncode in (0, 2), f"exit {result.returncode}: {output[-3000:]}"


def assert_refused_cleanly(deployment: Deployment, hostile: Path, before: tuple[str, str, dict[str, str]],
                           result: subprocess.CompletedProcess[str], *expected_zh: str) -> None:
    assert_no_crash(result)
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join((result.stdout + result.stderr).split())
    assert "发布失败" in message and "线上网站与索引保持不变" in message
    assert hostile.name in message, message
    for fragment in expected_zh:
        assert fragment in message, message
    assert deployment.live_state() == before, "the live release changed after a failed publish"
    assert stray_temporaries(deployment.var) == []
    # versions are directories; the ingest memo and the index token cache (portal.ingest.ingest_memo) live beside them
    snapshots = [p for p in (deployment.var / "snapshots").iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(snapshots) == 1, f"the failed publish left a snapshot version behind: {snapshots}"


# --- files that must be refused as a whole ----------------------------------------------------------


def good_xlsx(path: Path, rows: int = 200) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for n in range(10, 10 + rows):
        sheet.append(organisation_row(n))
    workbook.save(path)
    return path


def truncated_xlsx(inbox: Path) -> Path:
    whole = good_xlsx(inbox / "whole.xlsx").read_bytes()
    path = inbox / "截断的报送文件.xlsx"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def zip_bomb_xlsx(inbox: Path) -> Path:
    """A real workbook whose sheet XML inflates 256 MiB of blanks from ~0.25 MiB (ratio ~1000)."""
    source = zipfile.ZipFile(good_xlsx(inbox / "template.xlsx"))
    path = inbox / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for member in source.infolist():
            if member.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(member, source.read(member.filename))
                continue
            with bomb.open(member.filename, "w", force_zip64=True) as sheet:
                sheet.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxml'
                            b'formats.org/spreadsheetml/2006/main"><sheetData>')
                blanks = b" " * (1 << 20)
                for _ in range(256):
                    sheet.write(blanks)
                sheet.write(b"</sheetData></worksheet>")
    assert path.stat().st_size < 2 * 1024**2
    return path


def mixed_encoding_csv(inbox: Path) -> Path:
    lines = [",".join(HEADER), *(",".join(organisation_row(n)) for n in range(30, 34))]
    path = inbox / "mixed.csv"
    path.write_bytes(b"\n".join(line.encode("utf-8" if i % 2 else "gbk") for i, line in enumerate(lines)) + b"\n")
    return path


def empty_csv(inbox: Path) -> Path:
    path = inbox / "empty.csv"
    path.write_bytes(b"")
    return path


REFUSED: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "truncated-xlsx": (truncated_xlsx, ("不是可读取的", "截断")),
    "zip-bomb-xlsx": (zip_bomb_xlsx, ("压缩炸弹",)),
    "mixed-encodings": (mixed_encoding_csv, ("编码",)),
    "empty-file": (empty_csv, ("空文件",)),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unreadable_file_is_refused_with_a_chinese_message_and_live_portal_unchanged(
        deployment: Deployment, case: str) -> None:
    make, expected = REFUSED[case]
    hostile = make(deployment.inbox)
    before = deployment.live_state()
    result = publish(deployment, hostile)
    assert_refused_cleanly(deployment, hostile, before, result, *expected)


# --- files whose bad parts become rejects or warnings ------------------------------------------------


def published_entries(deployment: Deployment) -> list[dict[str, object]]:
    path = deployment.var / "snapshots" / "latest" / "entries.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


def rejects(deployment: Deployment) -> list[dict[str, str]]:
    with open(deployment.var / "snapshots" / "latest" / "rejects.csv", encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def assert_published(deployment: Deployment, result: subprocess.CompletedProcess[str]) -> None:
    assert_no_crash(result)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "已发布" in result.stdout
    assert stray_temporaries(deployment.var) == []


def test_ten_megabytes_in_one_field_rejects_that_row_only(deployment: Deployment) -> None:
    huge = organisation_row(21)
    huge[HEADER.index("认定部门")] = "达" * (10 * 1024 * 1024 // 3)
    hostile = write_csv(deployment.inbox / "bigfield.csv", [HEADER, organisation_row(20), huge, organisation_row(22)])
    assert hostile.stat().st_size >= 10 * 1024 * 1024
    result = publish(deployment, hostile)
    assert_published(deployment, result)
    (reject,) = [r for r in rejects(deployment) if r["source"] == "bigfield.csv"]
    assert reject["row"] == "3" and "过长" in reject["reason_zh"]
    names = {e["subject_name"] for e in published_entries(deployment)}
    assert {"达州市测试20建材有限公司", "达州市测试22建材有限公司"} <= names
    assert "达州市测试21建材有限公司" not in names
    for path in (deployment.var / "current").resolve().rglob("*"):
        assert not path.is_file() or path.stat().st_size < 5 * 1024 * 1024, f"the huge field reached {path}"


def test_nul_bytes_never_reach_the_public_data(deployment: Deployment) -> None:
    rows = [HEADER, *(organisation_row(n) for n in range(60, 64))]
    text = "\n".join(",".join(r) for r in rows) + "\n"
    text = text.replace("测试61", "测\x00试61").replace("\n", "\n\x00", 1)  # in a value and at a row start
    hostile = deployment.inbox / "nul.csv"
    hostile.write_bytes(text.encode("utf-8"))
    result = publish(deployment, hostile)
    assert_published(deployment, result)
    names = {str(e["subject_name"]) for e in published_entries(deployment)}
    accepted = {f"达州市测试{n}建材有限公司" for n in range(60, 64)} & names
    rejected_rows = {r["row"] for r in rejects(deployment) if r["source"] == "nul.csv"}
    assert len(accepted) + len(rejected_rows) == 4  # every row either cleaned and published, or rejected
    live = (deployment.var / "current").resolve()
    for path in [*live.rglob("*.html"), *live.rglob("*.csv"), *live.rglob("*.json"),
                 *(deployment.var / "snapshots" / "latest").glob("*.jsonl")]:
        assert b"\x00" not in path.read_bytes(), f"NUL byte in {path}"


def test_a_thousand_columns_are_reported_not_fatal(deployment: Deployment) -> None:
    extra = [f"备用字段{i}" for i in range(1000 - len(HEADER))]
    hostile = write_csv(deployment.inbox / "wide.csv", [HEADER + extra, organisation_row(40) + ["x"] * len(extra)])
    result = publish(deployment, hostile)
    assert_published(deployment, result)
    assert "未识别的列" in result.stdout
    manifest = orjson.loads((deployment.var / "snapshots" / "latest" / "manifest.json").read_bytes())
    (unknown,) = [u for u in manifest["unknown_columns"] if u["source"] == "wide.csv"]
    assert len(unknown["columns"]) == len(extra)
    assert "达州市测试40建材有限公司" in {e["subject_name"] for e in published_entries(deployment)}


def test_duplicate_headers_are_reported(deployment: Deployment) -> None:
    hostile = write_csv(deployment.inbox / "dup.csv",
                        [HEADER + ["主体名称", "认定日期"], organisation_row(50) + ["另一个名称", "2020-01-01"]])
    result = publish(deployment, hostile)
    assert_no_crash(result)
    output = " ".join((result.stdout + result.stderr).split())
    if result.returncode == 2:  # refusing the file is as good as reporting, as long as it is explained
        assert "dup.csv" in output and "重复" in output
        return
    assert_published(deployment, result)
    assert "重复的列" in output and "主体名称" in output
    manifest = orjson.loads((deployment.var / "snapshots" / "latest" / "manifest.json").read_bytes())
    (unknown,) = [u for u in manifest["unknown_columns"] if u["source"] == "dup.csv"]
    assert set(unknown["duplicates"]) == {"主体名称", "认定日期"}


# --- issue 12: a directory as a source, one 200 MB line, a read-only var -----------------------------------


def test_a_directory_given_as_a_source_says_so(deployment: Deployment) -> None:
    folder = deployment.inbox / "十一月报送"
    folder.mkdir()
    before = deployment.live_state()
    result = publish(deployment, folder)
    assert_refused_cleanly(deployment, folder, before, result, "是一个目录")
    assert "找不到文件" not in result.stdout + result.stderr


def test_one_200_megabyte_line_is_refused_in_bounded_memory(deployment: Deployment) -> None:
    hostile = deployment.inbox / "一行.csv"
    with open(hostile, "w", encoding="utf-8") as f:
        f.write(",".join(HEADER) + "\n甲," + "a" * (200 * 1024 * 1024) + "\n")
    before = deployment.live_state()
    # VmHWM: the peak RSS of this process image (getrusage's ru_maxrss would include the forking pytest's).
    script = ("import runpy, sys; sys.argv = ['portal', *sys.argv[1:]]\n"
              "try:\n    runpy.run_module('portal.cli', run_name='__main__')\n"
              "finally:\n    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
              "    print('MAXRSS', int(hwm) // 1024, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", script, "publish", str(deployment.inbox / "good.csv"), str(hostile),
                             "--var", str(deployment.var), "--as-of", AS_OF], cwd=deployment.inbox, capture_output=True,
                            text=True, timeout=PUBLISH_TIMEOUT_S, env={**os.environ, "COLUMNS": "200"})
    assert_refused_cleanly(deployment, hostile, before, result, "个字符")
    peak_mb = int(result.stderr.rsplit("MAXRSS", 1)[1].split()[0])
    assert peak_mb < 250, f"peak RSS {peak_mb} MB reading a 200 MB line"  # it was 657 MB


def read_only_mount_command(var: Path, command: list[str]) -> list[str] | None:
    """``command`` run with ``var`` read-only: by permissions for a normal user; as root (which permissions do
    not stop) in a private mount namespace with a read-only bind mount. None where neither is possible."""
    if os.geteuid() != 0:
        return command
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {var} {var} && mount -o remount,bind,ro {var}"],
                           capture_output=True)
    if probe.returncode != 0:
        return None
    quoted = " ".join(shlex.quote(part) for part in command)
    return ["unshare", "-m", "sh", "-c",
            f"mount --bind {shlex.quote(str(var))} {shlex.quote(str(var))} && "
            f"mount -o remount,bind,ro {shlex.quote(str(var))} && exec {quoted}"]


@pytest.mark.parametrize("fresh", [False, True])
def test_a_read_only_var_gives_the_clear_failure_message(deployment: Deployment, fresh: bool) -> None:
    var = deployment.var
    if fresh:  # a new, empty deployment directory
        var = deployment.inbox.parent / "empty-var"
        var.mkdir()
    command = read_only_mount_command(var, [sys.executable, "-m", "portal.cli", "publish",
                                            str(deployment.inbox / "good.csv"), "--var", str(var), "--as-of", AS_OF])
    if command is None:
        pytest.skip("cannot make a directory read-only for root here (no mount namespace)")
    if os.geteuid() != 0:
        for path in [var, *var.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o555)
    before = tree_digest(var)
    try:
        result = subprocess.run(command, cwd=deployment.inbox, capture_output=True, text=True,
                                timeout=PUBLISH_TIMEOUT_S, env={**os.environ, "COLUMNS": "200"})
    finally:
        if os.geteuid() != 0:
            for path in [var, *var.rglob("*")]:
                if path.is_dir() and not path.is_symlink():
                    path.chmod(0o755)
    output = " ".join((result.stdout + result.stderr).split())
    assert "Traceback" not in output, output[-3000:]
    assert result.returncode == 2, output[-3000:]
    assert "发布失败" in output and "线上网站与索引保持不变" in output and "无法写入" in output
    assert str(var) in output
    assert tree_digest(var) == before
