"""Readable steps on a corpus: how many names each step returns, and the step names.

    python bench/steps.py [CORPUS] [--every N] [--json OUT]

Runs convert's planning passes only (analyse → parameters → lift → plan → SageMaker plan;
nothing is written, no notebook code runs) on every notebook below CORPUS (default
../shared/corpus) and prints: notebooks planned, steps, the largest number of returns of
one step (all steps, and all but each notebook's last step, which hands run() everything it
wrote), how many notebooks have a step returning more than 5 names, and how many steps are
still called `step_N`. `--json OUT` keeps every notebook's steps (name, cells, returns,
heading) for before/after comparisons.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from notebook2service import convert as C

REPO = Path(__file__).resolve().parents[1]


def plan_of(path: Path) -> dict:
    src = C.analyse(str(path), None, None)
    params = C.parameters(src)
    lifted = C.lift(src, params)
    planned = C.plan(src, params, lifted)
    served = C.sagemaker_plan(src, lifted, planned)
    steps = [[s.name, len(s.cells), len(s.returns), s.heading] for s in planned.plan.steps]
    return {"steps": steps, "train": [s.name for s in served.sm.train_steps]}


def _timeout(*_: object) -> None:
    raise TimeoutError("over the time limit")


def over_corpus(corpus: str, every: int, measure: Callable[[Path], Any], seconds: int) -> dict:
    """`measure(path)` for every `every`-th notebook of `corpus`, each bounded to `seconds`; a
    notebook convert refuses (or that runs over) is counted with its error."""
    signal.signal(signal.SIGALRM, _timeout)
    found: dict[str, Any] = {}
    for path in sorted(Path(corpus).rglob("*.ipynb"))[::every]:
        signal.alarm(seconds)
        try:
            found[str(path)] = measure(path)
        except Exception as exc:  # noqa: BLE001 - a corpus notebook convert refuses is counted
            found[str(path)] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        finally:
            signal.alarm(0)
    return found


def summary(plans: dict[str, dict]) -> dict[str, int]:
    ok = [p["steps"] for p in plans.values() if "steps" in p]
    worst = [max([s[2] for s in st] or [0]) for st in ok]
    worst_inner = [max([s[2] for s in st[:-1]] or [0]) for st in ok]
    return {
        "notebooks": len(ok),
        "not planned": len(plans) - len(ok),
        "steps": sum(len(st) for st in ok),
        "max returns": max(worst or [0]),
        "max returns (not last step)": max(worst_inner or [0]),
        "notebooks with a step returning > 5": sum(w > 5 for w in worst),
        "same, not counting the last step": sum(w > 5 for w in worst_inner),
        "steps named step_N": sum(bool(re.fullmatch(r"step_\d+", s[0])) for st in ok for s in st),
    }


def corpus_main(
    measure: Callable[[Path], Any], summary: Callable[[dict], dict], seconds: int
) -> None:
    """The command line every corpus bench shares: `[CORPUS] [--every N] [--json OUT]`, then
    `measure` over the corpus and its `summary` printed one figure a line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default=str(REPO.parent / "shared" / "corpus"))
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    found = over_corpus(args.corpus, args.every, measure, seconds)
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=1))
    figures = summary(found)
    width = max(map(len, figures)) + 2
    for key, value in figures.items():
        print(f"{key:{width}} {value}")


def main() -> None:
    corpus_main(plan_of, summary, 30)


if __name__ == "__main__":
    main()
