"""Measure index building and query latency on synthetic data: ``python -m search_api.benchmark --rows 100000``.

Not a test (it takes tens of seconds); the lead's bench runs the 1,000,000 case.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import orjson

from search_api.engines.base import SearchQuery
from search_api.engines.sqlite import SqliteEngine
from search_api.indexer import build_index

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍"
WORDS = ["达州", "通川", "达川", "宣汉", "开江", "大竹", "渠县", "万源", "建筑", "工程", "商贸", "科技", "建材",
         "物流", "餐饮", "农业", "劳务", "装饰", "运输", "实业", "医药", "电子", "信息", "能源", "化工"]
FACT = "该单位在经营活动中存在违法失信行为经查证属实依据有关规定列入名单并向社会公示期间不得享受相关优惠政策"


def write_synthetic(snapshot_dir: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    snapshot_dir.mkdir(parents=True, exist_ok=True)
    start = date(2026, 11, 1)
    with (snapshot_dir / "entries.jsonl").open("wb") as out:
        for index in range(rows):
            decided = start - timedelta(days=index * 1000 // rows)
            person = rng.random() < 0.3
            name = (rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))) if person
                    else "".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6))) + "有限公司")
            entry = {"id": f"{index:016x}", "list_code": "SXBZXR" if person else "YZWFSX",
                     "list_name": "失信被执行人名单" if person else "严重违法失信企业名单", "list_kind": "black",
                     "subject_name": name, "subject_type": "自然人" if person else "法人及非法人组织",
                     "is_person": person, "uscc": None if person else f"915117{index:012d}",
                     "facts": FACT[rng.randint(0, 20):] + rng.choice(WORDS) * 3, "authority": "达州市市场监督管理局",
                     "decision_no": f"达市监处罚〔2026〕{index}号", "decision_date": decided.isoformat(),
                     "publish_from": decided.isoformat(), "publish_until": "2029-12-31",
                     "region": rng.choice(["通川区", "达川区", "宣汉县", "开江县"]), "status": "已公布", "details": {},
                     "source": {"file": "bench", "row": index, "batch": "b", "imported_at": "2026-11-23T00:00:00+08:00"}}
            out.write(orjson.dumps(entry) + b"\n")
    (snapshot_dir / "manifest.json").write_bytes(orjson.dumps({"data_as_of": "2026-11-23", "version": "bench"}))
    (snapshot_dir / "catalogue.json").write_bytes(orjson.dumps({"lists": []}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        snapshot_dir = Path(work) / "snap"
        write_synthetic(snapshot_dir, args.rows)
        stats = build_index(snapshot_dir, Path(work) / "index.sqlite3")
        print(f"build: {stats} peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
        engine = SqliteEngine(Path(work) / "index.sqlite3", timeout_ms=10_000)
        for q in ["王伟", "王", "达州", "有限公司", "达州建筑工程有限公司", "915117000000012345", "失信行为", "不存在的词"]:
            timings = []
            for _ in range(5):
                started = time.perf_counter()
                result = engine.search(SearchQuery(q=q, today=date(2026, 11, 23)))
                timings.append((time.perf_counter() - started) * 1000)
            print(f"{q!r:>24}: total {result.total} {result.relation}, median {statistics.median(timings):.1f} ms")


if __name__ == "__main__":
    main()
