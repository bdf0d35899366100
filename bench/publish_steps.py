"""One ``portal publish`` in this process, timed by step; prints one JSON line for bench_publish.py.

    python bench/publish_steps.py VAR_DIR AS_OF FILE...

Wall time on a shared machine says as much about the neighbours as about the code, so each step's CPU
seconds (this process and its ended children) are reported too. The step boundaries come from publish()'s own progress callback (ingest, site, index, switch). Peak RSS per
step is sampled every 50 ms from /proc (PSS, so shared pages count once) for this process and its children (the ingest workers are forked
children), so a step's figure is the largest resident total seen while it ran.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from datetime import date
from pathlib import Path

SAMPLE_SECONDS = 0.05


def _rss_kb(pid: int) -> int:
    """Proportional set size: pages shared by the forked workers with the parent count once in the sum."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its children that have ended (the ingest workers and the
    site's page writers end inside their step)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class StepClock:
    """Wall seconds and peak RSS (self + children) of each named step."""

    def __init__(self) -> None:
        self.steps: dict[str, dict[str, float]] = {}
        self.current: str | None = None
        self.started = 0.0
        self.cpu_started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.wait(SAMPLE_SECONDS):
            step = self.current
            if step is None:
                continue
            total = _rss_kb(me) + sum(_rss_kb(c) for c in _children(me))
            info = self.steps[step]
            info["peak_rss_mb"] = max(info["peak_rss_mb"], total / 1024)

    def enter(self, step: str) -> None:
        now, cpu = time.perf_counter(), _cpu_seconds()
        if self.current is not None:
            self.steps[self.current]["seconds"] = now - self.started
            self.steps[self.current]["cpu_seconds"] = cpu - self.cpu_started
        self.current, self.started, self.cpu_started = step, now, cpu
        self.steps[step] = {"seconds": 0.0, "cpu_seconds": 0.0, "peak_rss_mb": 0.0}

    def finish(self) -> None:
        self.enter("_end")
        del self.steps["_end"]
        self._stop.set()


def main() -> None:
    var, as_of, files = Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), sys.argv[3:]
    from portal.ingest.pipeline import SourceSpec
    from portal.release.publish import Layout, publish

    clock = StepClock()
    start = time.perf_counter()
    record = publish([SourceSpec(f) for f in files], Layout(var), as_of=as_of, trigger="bench", progress=clock.enter)
    clock.finish()
    manifest = record["manifest"]
    print(json.dumps({"total": time.perf_counter() - start, "cpu_total": _cpu_seconds(), "steps": clock.steps,
                      "counts": manifest["counts"], "changes": manifest["changes"],
                      "entries": manifest["files"]["entries.jsonl"]["rows"],
                      "withdrawn": manifest["files"]["withdrawn.jsonl"]["rows"],
                      "ingest_memo": record.get("memo")}))


if __name__ == "__main__":
    main()
