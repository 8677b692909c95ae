#!/usr/bin/env python3
"""Time `redact.find_secrets` against detect-secrets on the corpus, in one run.

Both scan the same texts: every notebook file of the corpus, line by line for detect-secrets
(its `scan_line` API, all default plugins), whole for nb2svc. Wall clock, best of --runs;
detect-secrets runs on a sample (it is much slower) and is extrapolated per megabyte.

    python bench/redact_bench.py [CORPUS] [--runs 3] [--sample 40]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notebook2service.redact import find_secrets  # noqa: E402

DEFAULT = Path(os.environ.get("NB2SVC_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))


def _texts(corpus: Path) -> list[str]:
    return [p.read_text("utf-8", "replace") for p in sorted(corpus.rglob("*.ipynb"))]


def _best(fn, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _detect_secrets(texts: list[str]):
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    def run():
        with default_settings():
            for text in texts:
                for line in text.splitlines():
                    for _ in scan_line(line):
                        pass

    return run


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sample", type=int, default=40)
    a = ap.parse_args()
    if not a.corpus.is_dir():
        print(f"no corpus at {a.corpus}", file=sys.stderr)
        return 2
    texts = _texts(a.corpus)
    mb = sum(len(t) for t in texts) / 1e6
    ours = _best(lambda: [find_secrets(t) for t in texts], a.runs)
    hits = sum(bool(find_secrets(t)) for t in texts)
    print(
        f"nb2svc find_secrets: {len(texts)} notebooks, {mb:.1f} MB in {ours:.2f} s "
        f"({mb / ours:.1f} MB/s); {hits} notebooks hold a secret-like string"
    )
    try:
        sample = random.Random(0).sample(texts, min(a.sample, len(texts)))
        smb = sum(len(t) for t in sample) / 1e6
        ref = _best(_detect_secrets(sample), 1)
    except ImportError:
        print("detect-secrets is not installed: no reference (pip install detect-secrets)")
        return 0
    print(
        f"detect-secrets scan_line: {len(sample)} notebooks, {smb:.1f} MB in {ref:.2f} s "
        f"({smb / ref:.2f} MB/s)"
    )
    print(f"ratio: nb2svc is {(smb / ref) and (mb / ours) / (smb / ref):.0f}x faster per MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
