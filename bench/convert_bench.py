"""Convert speed: nb2svc convert vs jupytext --to py and jupyter nbconvert --to script.

Both comparisons run in one invocation:
  * in-process, per notebook, over the whole corpus: nb2svc's `convert()` (everything but the
    file writes: analysis, libcst lifting and building pipeline.py as one tree, Jinja
    rendering of the other files, ruff format of two of them and ruff check) vs
    `jupytext.writes(nb, "py:percent")` vs nbconvert's `ScriptExporter` — what each tool
    costs once it is loaded;
  * command line, cold processes, on a sample: `nb2svc convert` vs `jupytext --to py` vs
    `jupyter nbconvert --to script` (start-up included, as a user meets it);
  * a 100-cell notebook (built from the corpus' own cells) must convert in under 1 s.

    python bench/convert_bench.py [--corpus bench/corpus] [--sample 30]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def corpus_files(folder: Path) -> list[Path]:
    files = sorted(folder.rglob("*.ipynb"))
    good = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        lang = (data.get("metadata", {}).get("kernelspec") or {}).get("language", "python")
        if data.get("nbformat") == 4 and str(lang).lower().startswith("python"):
            good.append(f)
    return good


def in_process(files: list[Path]) -> dict[str, list[float]]:
    import nbformat
    from nbconvert import ScriptExporter

    from notebook2service.convert import ConvertError, convert

    try:
        import jupytext
    except ImportError:
        jupytext = None
    exporter = ScriptExporter()
    times: dict[str, list[float]] = {"nb2svc": [], "jupytext": [], "nbconvert": []}
    failures = {"nb2svc": 0, "jupytext": 0, "nbconvert": 0}
    for f in files:
        t = time.perf_counter()
        try:
            convert(f, write=False)
            times["nb2svc"].append(time.perf_counter() - t)
        except ConvertError:
            failures["nb2svc"] += 1
        node = nbformat.read(f, as_version=4)
        if jupytext is not None:
            t = time.perf_counter()
            try:
                jupytext.writes(jupytext.read(f), fmt="py:percent")
                times["jupytext"].append(time.perf_counter() - t)
            except Exception:  # noqa: BLE001 - a reference tool failing is counted, not fatal
                failures["jupytext"] += 1
        t = time.perf_counter()
        try:
            exporter.from_notebook_node(node)
            times["nbconvert"].append(time.perf_counter() - t)
        except Exception:  # noqa: BLE001
            failures["nbconvert"] += 1
    print(f"\nIn-process, per notebook ({len(files)} notebooks):")
    print(
        f"{'tool':<10} {'ok':>5} {'fail':>5} {'median ms':>10} {'p90 ms':>8} {'total s':>8} {'vs nbconvert':>13}"
    )
    base = statistics.median(times["nbconvert"]) if times["nbconvert"] else None
    for tool, ts in times.items():
        if not ts:
            print(f"{tool:<10} not installed")
            continue
        ts_sorted = sorted(ts)
        med = statistics.median(ts_sorted)
        p90 = ts_sorted[int(0.9 * (len(ts_sorted) - 1))]
        ratio = f"{med / base:.1f}x" if base else "-"
        print(
            f"{tool:<10} {len(ts):>5} {failures[tool]:>5} {med * 1000:>10.1f} {p90 * 1000:>8.1f} {sum(ts):>8.2f} {ratio:>13}"
        )
    return times


def cli(files: list[Path]) -> dict[str, float]:
    exe = Path(sys.executable).parent
    tools = {
        "nb2svc": lambda f, out: [
            str(exe / "nb2svc"),
            "convert",
            str(f),
            "-o",
            str(out / "pkg"),
            "--force",
        ],
        "jupytext": lambda f, out: [
            str(exe / "jupytext"),
            "--to",
            "py",
            "-o",
            str(out / "x.py"),
            str(f),
        ],
        "nbconvert": lambda f, out: [
            str(exe / "jupyter"),
            "nbconvert",
            "--to",
            "script",
            "--output-dir",
            str(out),
            str(f),
        ],
    }
    results: dict[str, float] = {}
    print(f"\nCommand line, cold process per notebook ({len(files)} notebooks):")
    for tool, argv in tools.items():
        if not Path(argv(files[0], Path("."))[0]).exists():
            print(f"{tool:<10} not installed")
            continue
        ts = []
        with tempfile.TemporaryDirectory() as tmp:
            for f in files:
                t = time.perf_counter()
                subprocess.run(argv(f, Path(tmp)), capture_output=True, timeout=120)
                ts.append(time.perf_counter() - t)
        results[tool] = statistics.median(ts)
    base = results.get("nbconvert")
    for tool, med in results.items():
        ratio = f"{med / base:.2f}x" if base else "-"
        print(f"{tool:<10} median {med * 1000:7.0f} ms   vs nbconvert {ratio}")
    return results


def hundred_cells(files: list[Path]) -> float:
    from notebook2service.convert import convert

    rng = random.Random(7)
    cells = []
    for f in rng.sample(files, min(40, len(files))):
        data = json.loads(f.read_text(encoding="utf-8"))
        for c in data["cells"]:
            src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            if c["cell_type"] == "code" and src.strip() and "%" not in src and "!" not in src:
                cells.append(src)
    cells = cells[:100]
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": s,
            }
            for s in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    convert(nb, write=False)  # warm imports
    t = time.perf_counter()
    convert(nb, write=False)
    elapsed = time.perf_counter() - t
    print(
        f"\n100-cell notebook ({sum(len(c) for c in cells) / 1024:.0f} KiB of code): convert {elapsed * 1000:.0f} ms "
        f"({'under' if elapsed < 1 else 'OVER'} the 1 s goal)"
    )
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, default=HERE / "corpus")
    ap.add_argument(
        "--sample", type=int, default=30, help="notebooks for the command-line comparison"
    )
    ap.add_argument(
        "--limit", type=int, default=0, help="only the first N notebooks in-process (0: all)"
    )
    args = ap.parse_args()
    folder = args.corpus
    if not folder.exists():
        shared = ROOT.parent / "shared" / "corpus"
        folder = shared if shared.exists() else ROOT / "sample_notebooks"
        print(f"{args.corpus} not found; using {folder} (build the corpus with bench/corpus.py)")
    files = corpus_files(folder)
    if args.limit:
        files = files[: args.limit]
    if not files:
        print("no notebooks found")
        return 1
    results = {"in_process": {k: v for k, v in in_process(files).items()}}
    rng = random.Random(1)
    results["cli_median_s"] = cli(rng.sample(files, min(args.sample, len(files))))
    results["hundred_cells_s"] = hundred_cells(files)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "convert.json").write_text(json.dumps(results, indent=1))
    shutil.rmtree(ROOT / "build", ignore_errors=True) if (ROOT / "build" / "pkg").exists() else None
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
