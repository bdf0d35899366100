"""Pelican settings for the published site: absolute URLs on the public origin."""

from __future__ import annotations

import os
import sys

sys.path.append(os.curdir)
from pelicanconf import *  # noqa: E402,F403

SITEURL = os.environ.get("PORTAL_SITEURL", "https://credit.dazhou.gov.cn")
PORTAL_PUBLIC_URL = SITEURL
PORTAL_API_URL = os.environ.get("PORTAL_API_URL", "https://credit.dazhou.gov.cn/api/v1")
PORTAL_APPLY_URL = os.environ.get("PORTAL_APPLY_URL", "https://credit.dazhou.gov.cn/apply/v1")
RELATIVE_URLS = False
DELETE_OUTPUT_DIRECTORY = True
