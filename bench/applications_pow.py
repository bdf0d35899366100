"""Cost of the applications service's anti-automation step and code check (docs/applications.md, "Measured").

    python bench/applications_pow.py [--runs 9]

Solves fresh challenges in headless Debian Chromium with the same loop as theme/static/js/apply.js (Web
Crypto SHA-256, batches of 256) at 12 and 16 bits, and times the store's scrypt query-code check.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "site"))
sys.path.insert(0, str(ROOT))

SOLVE_JS = """async ([token, bits]) => {
  function zeroBits(bytes) { let b = 0; for (let i = 0; i < bytes.length; i++) { if (bytes[i] === 0) { b += 8; continue; }
    let x = bytes[i]; while ((x & 0x80) === 0) { b += 1; x <<= 1; } return b; } return b; }
  const enc = new TextEncoder(); const t0 = performance.now();
  async function batch(start) { const tries = [];
    for (let n = start; n < start + 256; n++) { tries.push(crypto.subtle.digest("SHA-256", enc.encode(token + ":" + n))); }
    const d = await Promise.all(tries);
    for (let i = 0; i < d.length; i++) { if (zeroBits(new Uint8Array(d[i])) >= bits) { return start + i; } }
    return batch(start + 256); }
  const n = await batch(0); return [n, performance.now() - t0]; }"""


def main() -> None:
    import sitebuild

    from portal.applications.store import hash_code

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "index.html").write_text("<!doctype html><title>pow</title>", encoding="utf-8")
        # 127.0.0.1 is a secure context: Web Crypto is available as on the HTTPS site.
        with sitebuild.StaticServer(Path(tmp)) as server, sitebuild.chromium() as browser:
            page = browser.new_page()
            page.goto(server.url + "/")
            for bits in (12, 16):
                results = [page.evaluate(SOLVE_JS, [secrets.token_hex(16), bits]) for _ in range(runs)]
                times = [ms for _, ms in results]
                hashes = sum(n + 1 for n, _ in results)
                print(f"proof of work {bits} bits: median {statistics.median(times):.0f} ms, "
                      f"{hashes / sum(times) * 1000:,.0f} hashes/s")
    checks = []
    for _ in range(runs):
        started = time.perf_counter()
        hash_code("ABCDEFGHJK")
        checks.append((time.perf_counter() - started) * 1000)
    print(f"query-code check (scrypt): median {statistics.median(checks):.1f} ms")


if __name__ == "__main__":
    main()
