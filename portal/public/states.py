"""One wording for each public state of an entry, shared by the site, the API, the CLI and the guides.

The operator guide (docs/operator-guide.md) and the public help pages (content/pages/help.md, yiyi-chuli.md)
use these exact words; tests/test_rules_publish.py checks the site pages, the API messages and the guides.
"""

from __future__ import annotations

from portal.public.records import PublicStatus, WithdrawalReason

UNDER_NOTICE = PublicStatus.UNDER_NOTICE.value  # 公示中: pre-publication notice
PUBLISHED = PublicStatus.PUBLISHED.value  # 已公布
OBJECTION_FLAGGED = PublicStatus.OBJECTION.value  # 异议处理中: still listed, with the flag
SUSPENDED = WithdrawalReason.SUSPENDED.value  # 暂停公示（异议处理中）: withheld while the objection is checked
WITHDRAWN = "该信息已不再公示"  # withdrawn for good (期满, 信用修复, 撤销, 异议更正, 移出)

SUSPENDED_TEXT = "信息主体提出的异议正在核查，核查期间暂停公示该信息。核查结束后，信息将恢复公示，或经更正后停止公示。"
