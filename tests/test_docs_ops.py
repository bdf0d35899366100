"""The operations side: systemd units, the cron file, the nightly script and the commands the docs quote.

Everything runs for real: `systemd-analyze` on the units, bash on the scripts, the portal CLI on the
commands of docs/operator-guide.md and docs/operations.md, and scripts/nightly.sh against a temporary
inbox and var directory.
"""

from __future__ import annotations

import configparser
import csv
import fcntl
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from stdnum.cn import uscc
from typer.testing import CliRunner

from portal.cli import app
from portal.public.dates import today_shanghai

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NIGHTLY = ROOT / "scripts" / "nightly.sh"
DOCS = (ROOT / "docs" / "operator-guide.md", ROOT / "docs" / "operations.md")
INSTALL_ROOT = "/opt/portal"  # where the units expect the checkout (docs/operations.md)
UNIT_FILES = ("portal-publish.service", "portal-publish.timer", "portal-api.service")
IMPORT_HEADERS = ("主体名称", "主体类别", "统一社会信用代码", "名单名称", "认定事实", "认定依据", "认定文书号",
                  "认定部门", "认定日期", "所属区域")


def _portal_bin() -> str:
    beside_python = Path(sys.executable).parent / "portal"
    found = str(beside_python) if beside_python.exists() else shutil.which("portal")
    assert found, "the portal command is not installed"
    return found


# --- systemd units ---------------------------------------------------------------------------------


class _MultiValueDict(dict):  # type: ignore[type-arg]
    """configparser storage that keeps repeated keys (systemd's Environment=) instead of the last one."""

    def __setitem__(self, key: str, value: object) -> None:
        if isinstance(value, list) and key in self and isinstance(self[key], list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def read_unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, dict_type=_MultiValueDict,
                                       delimiters=("=",), comment_prefixes=("#", ";"), empty_lines_in_values=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def values(unit: configparser.ConfigParser, section: str, key: str) -> list[str]:
    return unit[section][key].splitlines() if unit.has_option(section, key) else []


def environment(unit: configparser.ConfigParser) -> dict[str, str]:
    pairs = (item.split("=", 1) for line in values(unit, "Service", "Environment") for item in shlex.split(line))
    return dict(pairs)  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # The units point at /opt/portal; verify checks that ExecStart exists, so point them at this checkout
    # and at the virtualenv running the tests.
    for name in UNIT_FILES:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        text = text.replace(f"{INSTALL_ROOT}/.venv/bin", str(Path(sys.executable).parent)).replace(INSTALL_ROOT, str(ROOT))
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in UNIT_FILES)],
                            capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for warning in ("Unknown key", "Unknown section", "Failed to parse", "not executable", "Invalid"):
        assert warning not in output, output


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_timer_fires_at_0030_china_standard_time() -> None:
    on_calendar = values(read_unit(DEPLOY / "portal-publish.timer"), "Timer", "OnCalendar")[0]
    result = subprocess.run(["systemd-analyze", "calendar", "--iterations=2", on_calendar], capture_output=True,
                            text=True, timeout=30, env={**os.environ, "TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    elapses = re.findall(r"(?:Next elapse|Iter\. #2): \w{3} (\S+) (\S+) UTC", result.stdout)
    assert [time for _, time in elapses] == ["16:30:00", "16:30:00"], result.stdout  # 00:30 +08:00


def test_publish_timer_and_service_keys() -> None:
    timer = read_unit(DEPLOY / "portal-publish.timer")
    assert values(timer, "Timer", "OnCalendar") == ["*-*-* 00:30:00 Asia/Shanghai"]
    assert values(timer, "Timer", "Persistent") == ["true"]
    assert values(timer, "Timer", "Unit") == ["portal-publish.service"]
    assert values(timer, "Install", "WantedBy") == ["timers.target"]

    service = read_unit(DEPLOY / "portal-publish.service")
    assert values(service, "Service", "Type") == ["oneshot"]
    assert values(service, "Service", "ExecStart") == [f"{INSTALL_ROOT}/scripts/nightly.sh"]
    assert values(service, "Service", "User") == ["portal"]
    assert values(service, "Service", "EnvironmentFile") == ["/etc/portal/portal.env"]
    assert environment(service)["PORTAL_ENV"] == "production"
    writable = values(service, "Service", "ReadWritePaths")
    working_dir = values(service, "Service", "WorkingDirectory")[0]
    assert writable == [f"{working_dir}/{environment(service)['PORTAL_VAR']}"]


def test_api_service_serves_the_live_index() -> None:
    service = read_unit(DEPLOY / "portal-api.service")
    exec_start = shlex.split(values(service, "Service", "ExecStart")[0])
    assert exec_start[0] == f"{INSTALL_ROOT}/.venv/bin/uvicorn"
    assert exec_start[1] == "search_api.app:app"
    assert exec_start[exec_start.index("--host") + 1] == "127.0.0.1"  # nginx in front, never public
    env = environment(service)
    assert env["PORTAL_INDEX_PATH"] == "var/current/index.db"
    assert env["PORTAL_ENV"] == "production"
    assert values(service, "Service", "EnvironmentFile") == ["/etc/portal/portal.env"]
    assert values(service, "Install", "WantedBy") == ["multi-user.target"]


# --- cron ------------------------------------------------------------------------------------------

CRON_FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))  # minute hour day-of-month month day-of-week


def cron_field_is_valid(field: str, low: int, high: int) -> bool:
    for part in field.split(","):
        match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if not match:
            return False
        start, end, step = match.group(2), match.group(3), match.group(4)
        numbers = [int(n) for n in (start, end) if n is not None]
        if any(not low <= n <= high for n in numbers) or (end and int(end) < int(start)) or step == "0":
            return False
    return True


def test_cron_validator_rejects_bad_fields() -> None:
    assert cron_field_is_valid("*/15", 0, 59) and cron_field_is_valid("1-5,7", 0, 7)
    assert not cron_field_is_valid("60", 0, 59)
    assert not cron_field_is_valid("5-1", 0, 23)
    assert not cron_field_is_valid("*/0", 0, 59)
    assert not cron_field_is_valid("@daily", 0, 59)


def test_cron_file_has_one_valid_job_in_shanghai_time() -> None:
    assignments: dict[str, str] = {}
    jobs: list[str] = []
    for line in (DEPLOY / "portal.cron").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", stripped) and not jobs:
            name, value = stripped.split("=", 1)
            assignments[name] = value
        else:
            jobs.append(stripped)
    assert assignments.get("CRON_TZ") == "Asia/Shanghai"
    assert len(jobs) == 1, jobs
    fields = jobs[0].split(maxsplit=5)
    assert len(fields) == 6, "five time fields and a command"
    *schedule, command = fields
    for value, (low, high) in zip(schedule, CRON_FIELD_RANGES, strict=True):
        assert cron_field_is_valid(value, low, high), value
    assert schedule == ["30", "0", "*", "*", "*"]
    assert "%" not in command  # cron turns an unescaped % into a newline
    assert f"{INSTALL_ROOT}/scripts/nightly.sh" in command
    syntax = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, syntax.stderr


# --- the commands quoted in the docs ---------------------------------------------------------------

CODE_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
SEPARATORS = {"&&", "||", "|", ";"}


def command_lines(markdown: str) -> list[str]:
    """Shell lines of fenced blocks, and inline code spans outside them."""
    lines: list[str] = []
    for block in CODE_BLOCK.findall(markdown):
        lines.extend(block.splitlines())
    lines.extend(INLINE_CODE.findall(CODE_BLOCK.sub("", markdown)))
    return lines


def portal_invocations(line: str) -> list[list[str]]:
    """The argument lists of every `portal` run in command position (after sudo / VAR=value)."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:
        return []
    found: list[list[str]] = []
    segment: list[str] = []
    for token in [*tokens, ";"]:
        if token not in SEPARATORS:
            segment.append(token)
            continue
        words = list(segment)
        segment = []
        while words and (words[0] == "sudo" or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])):
            words.pop(0)
        if words and (words[0] == "portal" or words[0].endswith("/bin/portal")):
            found.append(words[1:])
    return found


def documented_invocations() -> list[tuple[str, list[str]]]:
    return [(doc.name, args) for doc in DOCS
            for line in command_lines(doc.read_text(encoding="utf-8"))
            for args in portal_invocations(line)]


def test_invocation_extraction() -> None:
    assert portal_invocations("sudo portal objection ab12 --resolve upheld  # 异议成立") == [
        ["objection", "ab12", "--resolve", "upheld"]]
    assert portal_invocations("cd /srv/portal && /opt/portal/.venv/bin/portal history --limit 5") == [
        ["history", "--limit", "5"]]
    assert portal_invocations("usermod -aG portal www-data") == []
    assert portal_invocations("ln -sf portal /usr/local/bin/portal-publish-inbox") == []


def resolve_command(root: Any, args: list[str]) -> tuple[list[str], Any, list[str]]:
    """Walk subcommands; return (command path, command, the option names used on it).

    Commands are typer's (click-like, vendored by typer): a group is anything with ``commands``.
    """
    path: list[str] = []
    command = root
    rest = list(args)
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        assert name in command.commands, f"`portal {' '.join([*path, name])}` is not a command"
        command = command.commands[name]
        path.append(name)
    options = [token.split("=", 1)[0] for token in rest if token.startswith("--")]
    return path, command, options


def test_every_documented_portal_command_exists() -> None:
    invocations = documented_invocations()
    per_doc = {doc.name: sum(1 for name, _ in invocations if name == doc.name) for doc in DOCS}
    assert per_doc["operator-guide.md"] >= 25 and per_doc["operations.md"] >= 3, per_doc  # extraction works

    runner = CliRunner()
    top_help = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert top_help.exit_code == 0, top_help.output
    root = typer.main.get_command(app)
    problems: list[str] = []
    for doc, args in invocations:
        try:
            path, command, options = resolve_command(root, args)
        except AssertionError as exc:
            problems.append(f"{doc}: {exc}")
            continue
        if path and path[0] not in top_help.output:
            problems.append(f"{doc}: `portal {path[0]}` is not in `portal --help`")
        sub_help = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        if sub_help.exit_code != 0:
            problems.append(f"{doc}: `portal {' '.join(path)} --help` failed: {sub_help.output}")
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help"}
        problems.extend(f"{doc}: `portal {' '.join(args)}`: no option {option}"
                        for option in options if option not in known)
    assert not problems, "\n".join(problems)


def test_operator_guide_covers_every_operator_command() -> None:
    guide = DOCS[0].read_text(encoding="utf-8")
    used = {tuple(resolve_command(typer.main.get_command(app), args)[0]) for doc, args in documented_invocations()
            if doc == "operator-guide.md"}
    for path in (("publish",), ("ingest",), ("history",), ("objection",), ("repair",), ("revoke",), ("rollback",),
                 ("apikey", "issue"), ("apikey", "list"), ("apikey", "revoke")):
        assert path in used, f"operator guide never shows `portal {' '.join(path)}`"
    for topic in ("ORA-12514", "ORA-12541", "ORA-01017", "oracle+oracledb://", "service_name=ORCLPDB1",
                  "portal/data/holidays.toml", "portal/data/headers.toml", "rejects.csv",
                  "读取 = 已公布 + 公示中 + 不公开 + 拒收", "/forms/mingdan-shuju-daoru-muban.xlsx"):
        assert topic in guide, topic


# --- scripts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", [NIGHTLY, DEPLOY / "portal-admin.sh"], ids=lambda p: p.name)
def test_scripts_parse_with_bash(script: Path) -> None:
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert os.access(script, os.X_OK), f"{script} is not executable"


def run_nightly(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {key: value for key, value in os.environ.items() if key != "PORTAL_ENV"}
    full_env.update(PORTAL_BIN=_portal_bin(), PORTAL_INBOX="inbox", PORTAL_VAR="var",
                    PORTAL_HMAC_KEY="test-only-hmac-key-0123456789abcdef", **env)
    return subprocess.run([str(NIGHTLY), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)


def write_department_csv(path: Path, name: str = "达州市测试商贸有限公司") -> str:
    """One valid row of the import contract; returns the USCC."""
    body = "91511702MA62A5B7C"  # 17 characters: registration authority, region, organisation code
    code = body + uscc.calc_check_digit(body)
    decided = today_shanghai() - timedelta(days=30)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(IMPORT_HEADERS)
        writer.writerow([name, "法人及非法人组织", code, "重大税收违法失信主体名单", "虚开增值税专用发票",
                         "《中华人民共和国税收征收管理法》", "达税稽罚〔2026〕1号", "国家税务总局达州市税务局",
                         decided.isoformat(), "通川区"])
    return code


def set_mtime(path: Path, seconds_ago: int) -> None:
    stamp = path.stat().st_mtime - seconds_ago
    os.utime(path, (stamp, stamp))


def test_nightly_lists_the_newest_file_of_each_department(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    old = inbox / "税务局" / "2026-10.csv"
    new = inbox / "税务局" / "2026-09-renamed.csv"  # newer by time although its name sorts first
    write_department_csv(old)
    write_department_csv(new)
    set_mtime(old, 3600)
    write_department_csv(inbox / "法院" / "失信被执行人.xlsx")
    write_department_csv(inbox / "overwritten-daily.csv")
    for ignored in (".hidden.csv", "~$lock.xlsx", "upload.csv.part", "readme.pdf"):
        (inbox / ignored).write_text("x", encoding="utf-8")
    (inbox / "空目录").mkdir()

    result = run_nightly(tmp_path, "--list", PORTAL_DB_URL="oracle+oracledb://reader:p%40ss@db:1521/?service_name=X",
                         PORTAL_DB_TABLE="CREDIT.V_HEIMINGDAN")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "inbox/overwritten-daily.csv",
        "inbox/法院/失信被执行人.xlsx",
        "inbox/税务局/2026-09-renamed.csv",
        "oracle+oracledb://reader:***@db:1521/?service_name=X --table CREDIT.V_HEIMINGDAN",
    ]
    assert "p%40ss" not in result.stdout + result.stderr
    assert "空目录" in result.stderr  # an empty department directory is reported, not silently skipped
    assert not (tmp_path / "var").exists()  # listing publishes nothing


def test_nightly_refuses_an_empty_inbox(tmp_path: Path) -> None:
    (tmp_path / "inbox" / "税务局").mkdir(parents=True)
    result = run_nightly(tmp_path)
    assert result.returncode == 66, result.stdout + result.stderr
    assert "withdraw every entry" in result.stderr
    assert not (tmp_path / "var" / "audit.db").exists()  # no publish was attempted


def test_nightly_reports_a_failed_publish_and_keeps_nothing_live(tmp_path: Path) -> None:
    bad = tmp_path / "inbox" / "人社局" / "名单.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("单位,备用字段\n达州某公司,1\n", encoding="utf-8")  # no required columns: refused as a whole
    result = run_nightly(tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "publish failed" in result.stderr
    assert not (tmp_path / "var" / "current").exists()
    with sqlite3.connect(tmp_path / "var" / "audit.db") as db:
        events = db.execute("SELECT outcome, trigger FROM events").fetchall()
    assert events == [("failed", "schedule")]


def test_nightly_does_not_overlap_a_running_night(tmp_path: Path) -> None:
    write_department_csv(tmp_path / "inbox" / "税务局" / "2026-11.csv")
    (tmp_path / "var").mkdir()
    with open(tmp_path / "var" / ".nightly.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_nightly(tmp_path)
    assert result.returncode == 75, result.stdout + result.stderr
    assert "another nightly run" in result.stderr
    assert not (tmp_path / "var" / "audit.db").exists()


def test_nightly_publishes_the_inbox(tmp_path: Path) -> None:
    code = write_department_csv(tmp_path / "inbox" / "税务局" / "2026-11.csv", name="达州市夜间发布测试有限公司")
    result = run_nightly(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

    live = tmp_path / "var" / "current"
    assert live.is_symlink()
    assert (live / "index.db").is_file()
    assert (live / "site" / "index.html").is_file()
    entries = (tmp_path / "var" / "snapshots" / "latest" / "entries.jsonl").read_text(encoding="utf-8")
    assert "达州市夜间发布测试有限公司" in entries and code in entries
    with sqlite3.connect(tmp_path / "var" / "audit.db") as db:
        events = db.execute("SELECT outcome, trigger FROM events").fetchall()
    assert events == [("published", "schedule")]

    entry_id = re.search(r'"id":\s*"([0-9a-f]{16})"', entries)
    assert entry_id, entries
    history = subprocess.run([_portal_bin(), "history", "--var", "var", "--entry", entry_id.group(1)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert history.returncode == 0, history.stdout + history.stderr
