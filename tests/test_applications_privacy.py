"""The applications store stays private: no public package imports it, the nightly run purges it, and every
limit and setting of the service is documented."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

from applications_support import PDF

from portal.applications import settings as apply_settings
from portal.applications.attachments import AttachmentDir
from portal.applications.rules import Kind
from portal.applications.store import ApplicationStore, NewApplication

ROOT = Path(__file__).resolve().parents[1]
# Everything that builds or serves what is public.
PUBLIC_MODULES = ["portal.ingest.pipeline", "portal.ingest.worker", "portal.public.snapshot", "portal.release.publish", "portal.site",
                  "portal.site.generator", "portal.site.build", "portal.serve", "search_api.app",
                  "search_api.indexer", "search_api.routers.api"]
PUBLIC_SOURCES = [ROOT / "portal" / "site", ROOT / "search_api", ROOT / "portal" / "ingest.py",
                  ROOT / "portal" / "ingest_worker.py", ROOT / "portal" / "snapshot.py", ROOT / "portal" / "publish.py",
                  ROOT / "portal" / "serve.py", ROOT / "portal" / "importers"]


def test_no_public_module_loads_the_applications_package() -> None:
    code = ("import importlib, sys\n"
            f"for name in {PUBLIC_MODULES!r}: importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.startswith('portal.applications')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    mentions = [str(path.relative_to(ROOT)) for top in PUBLIC_SOURCES
                for path in ([top] if top.is_file() else sorted(top.rglob("*.py")))
                if "portal.applications" in path.read_text(encoding="utf-8")]
    assert mentions == []


def test_every_limit_and_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "applications.md").read_text(encoding="utf-8")
    constants = [name for name in vars(apply_settings) if re.fullmatch(r"[A-Z][A-Z0-9_]+", name)]
    assert len(constants) > 20
    missing = [name for name in constants if f"`{name}`" not in doc]
    missing += [name for name in apply_settings.Settings.model_fields if f"`{name}`" not in doc]
    assert missing == []


def test_nightly_run_purges_applications_past_retention(tmp_path: Path) -> None:
    var = tmp_path / "var"
    store = ApplicationStore(f"sqlite:///{var / 'applications' / 'applications.db'}",
                             AttachmentDir(var / "applications" / "attachments"))
    entry = {"id": "0123456789abcdef", "list_code": "YZWFSX", "list_name": "严重违法失信企业名单",
             "subject_name": "达州市甲建筑工程有限公司"}
    new = NewApplication(kind=Kind.OBJECTION, entry=entry, applicant_type="unit", applicant_name="甲公司",
                         applicant_code=None, applicant_id_digest=None, identity_matches=None, contact_name="李明",
                         contact_phone="0818-2123456", contact_email=None, grounds="理由足够长的一段说明文字",
                         files=[(PDF, "a.pdf", "application/pdf")])
    old, _ = store.create(new, date(2020, 1, 6))  # never decided: gone a year later
    store.close()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    from stdnum.cn import uscc

    body = "91511702MA62A5B7C"
    with open(inbox / "dept.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["主体名称", "主体类别", "统一社会信用代码", "名单名称", "认定日期", "认定部门"],
                                 ["达州市夜间测试有限公司", "法人及非法人组织", body + uscc.calc_check_digit(body),
                                  "重点关注名单", "2026-06-01", "达州市市场监督管理局"]])
    portal_bin = Path(sys.executable).parent / "portal"
    env = {k: v for k, v in os.environ.items() if k not in ("PORTAL_ENV", "PORTAL_APPLY_DB_URL")}
    env.update(PORTAL_BIN=str(portal_bin), PORTAL_INBOX="inbox", PORTAL_VAR="var", PYTHONPATH=str(ROOT))
    result = subprocess.run([str(ROOT / "scripts" / "nightly.sh")], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "已删除保存期满的申请 1 件、附件 1 个" in result.stdout
    store = ApplicationStore(f"sqlite:///{var / 'applications' / 'applications.db'}",
                             AttachmentDir(var / "applications" / "attachments"))
    assert store.get(old) is None and list((var / "applications" / "attachments").iterdir()) == []
    store.close()
