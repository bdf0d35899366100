"""Fault injection for the crash-safety tests: ``PORTAL_FAULT_KILL=<step>`` makes the process SIGKILL itself
(and its process group, ingest's validator processes included, as the OOM killer would) on reaching that
step. The test then knows the kill happened exactly there, instead of guessing from the file system when
to send it. Unset (always, in production) the hooks cost one comparison each, a few times per publish.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "PORTAL_FAULT_KILL"
# The steps a publish or an index build can be killed at (docs/operations.md, "Crash safety"):
STEPS = (
    "ingest",  # rows are being staged; the snapshot version is still a temporary directory
    "site",  # the release's site is half built in its staging directory
    "slot",  # pages are written into the idle entry slot, its page-store index not yet saved
    "index",  # the search index is half loaded into its temporary file
)
_KILL_AT = os.environ.get(FAULT_ENV)  # read once: the tests set it for the child process they start


def reached(step: str) -> None:
    """SIGKILL this process (its whole group when it leads one) if ``PORTAL_FAULT_KILL`` names ``step``."""
    if step != _KILL_AT:
        return
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
