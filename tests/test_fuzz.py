"""Property-based mutation fuzzing: lint, convert, check-converted and the JupyterLab worker.

Seeds are real notebooks from the development corpus (``$NB2SVC_CORPUS`` or ``shared/corpus``
next to the repository) when it is there, else the repository's sample notebooks plus a
generated one. Hypothesis mutates them (truncation, deep nesting, huge or hostile cells, odd
encodings, odd metadata and cell shapes) and every tool must answer with a result or a
one-line error: 0 tracebacks, 0 crashes, 0 hangs. Convert runs in a subprocess with a
timeout, so a segfault or a hang is seen as such.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from notebook2service.linter.fix import clear_execution_counts  # noqa: E402
from notebook2service.linter.runner import lint_file  # noqa: E402
from notebook2service.notebook import NotebookError  # noqa: E402
from notebook2service.worker import handle  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _corpus() -> list[Path]:
    env = os.environ.get("NB2SVC_CORPUS")
    places = [Path(env)] if env else [p / "shared" / "corpus" for p in REPO.parents[:2]]
    for place in places:
        if place.is_dir():
            found = sorted(place.rglob("*.ipynb"))
            if found:
                return random.Random(9).sample(found, min(40, len(found)))
    return []


def _generated() -> bytes:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Title\n"},
        {"cell_type": "code", "metadata": {}, "execution_count": 2, "outputs": [],
         "source": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [],
         "source": "X = [[1], [2]]\ny = [0, 1]\nm = LogisticRegression().fit(X, y=y)\n!ls\n"},
        {"cell_type": "code", "metadata": {}, "execution_count": 3, "outputs": [],
         "source": "%%writefile helper.py\ndef f():\n    return 1\n"},
    ]  # fmt: skip
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
          "metadata": {"kernelspec": {"name": "python3", "language": "python"}}}  # fmt: skip
    return json.dumps(nb).encode()


SEEDS = [p.read_bytes() for p in _corpus()] or [
    *(p.read_bytes() for p in sorted((REPO / "sample_notebooks").glob("*.ipynb"))),
    _generated(),
]
SOURCE = "corpus" if _corpus() else "samples"

HOSTILE_CELLS = st.sampled_from(
    [
        "x = " + "-" * 20000 + "1",
        "x = " + "(" * 1000 + "1" + ")" * 1000,
        "x = " + "+".join(["1"] * 20000),
        "x = a" + ".b" * 20000,
        "f = " + "lambda: " * 500 + "1",
        "x = '\ud800'",
        "\x00\x01 = 1",
        "%%writefile .\nx = 1\n",
        "%%writefile -a helper.py\nx = 2\n",
        "def f(:\n",
        "\n".join(f"x{i} = {i}" for i in range(30000)),
    ]
)
ODD_METADATA = st.sampled_from(
    [
        {"kernelspec": []},
        {"kernelspec": {"name": 3}},
        {"language_info": "python"},
        {"nb2svc": {"parameters": [[[]]]}},
        None,
        [1, 2],
    ]
)


def _as_notebook(raw: bytes) -> dict | None:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = draw(st.sampled_from(SEEDS))
    kind = draw(
        st.sampled_from(["truncate", "nest", "cell", "encode", "metadata", "shape", "bytes"])
    )
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw)))]
    if kind == "bytes":
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at + 1 :]
    if kind == "encode":
        text = raw.decode("utf-8", "replace")
        codec = draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "utf-8-sig", "cp1252"]))
        return text.encode(codec, "replace")
    nb = _as_notebook(raw)
    if nb is None or not isinstance(nb.get("cells"), list):
        return raw
    if kind == "nest":
        depth = draw(st.integers(50, 5000))
        nb["metadata"] = {"deep": json.loads("[" * min(depth, 900) + "]" * min(depth, 900))}
        text = json.dumps(nb)
        return ("[" * depth + text + "]" * depth).encode() if depth > 900 else text.encode()
    if kind == "cell":
        src = draw(HOSTILE_CELLS)
        cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
        nb["cells"].insert(draw(st.integers(0, len(nb["cells"]))), {**cell, "source": src})
    elif kind == "metadata":
        nb["metadata"] = draw(ODD_METADATA)
    else:  # odd cell shapes
        odd = draw(
            st.sampled_from(
                [{"cell_type": "code", "source": 5}, {"cell_type": "code"}, "cell", None,
                 {"cell_type": "code", "source": ["a", 1], "outputs": "x"},
                 {"cell_type": "raw", "source": "x"}, {"cell_type": "code", "id": [1]}]
            )
        )  # fmt: skip
        nb["cells"].append(odd)
    return json.dumps(nb).encode("utf-8", "surrogatepass")


def fuzz(examples_env: str, default: int) -> settings:
    return settings(
        max_examples=int(os.environ.get(examples_env, default)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
        derandomize=True,
        database=None,
    )


@fuzz("NB2SVC_FUZZ_EXAMPLES", 120)
@given(mutated())
def test_lint_never_raises(tmp_path_factory, raw):
    f = tmp_path_factory.mktemp("lint") / "nb.ipynb"
    f.write_bytes(raw)
    result = lint_file(str(f))  # an internal error would raise here
    assert result.error is None or "\n" not in result.error
    answer = handle({"verb": "lint", "text": raw.decode("utf-8", "replace"), "path": str(f)})
    assert isinstance(answer, dict) and "ok" in answer  # the JupyterLab worker's answer
    try:  # lint --fix: a one-line refusal, or a file that differs only in its counts
        clear_execution_counts(str(f))
    except NotebookError:
        assert f.read_bytes() == raw
    else:
        _same_but_counts(raw, f.read_bytes())


def _same_but_counts(before: bytes, after: bytes) -> None:
    def strip(data: bytes) -> object:
        nb = json.loads(data.decode("utf-8-sig"), parse_float=str, parse_constant=str)
        for cell in nb.get("cells") or []:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                cell.pop("execution_count", None)
                for out in cell.get("outputs") if isinstance(cell.get("outputs"), list) else []:
                    if isinstance(out, dict):
                        out.pop("execution_count", None)
        return nb

    assert strip(before) == strip(after)


def _convert(nb: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "notebook2service", "convert", str(nb), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=180,  # a hang fails the test (TimeoutExpired), a segfault is returncode < 0
        cwd=nb.parent,
    )


@pytest.mark.slow
@fuzz("NB2SVC_FUZZ_CONVERT_EXAMPLES", 12)
@given(mutated(), st.sampled_from(["truncate", "nest", "keep"]))
def test_convert_and_check_converted_never_crash(tmp_path_factory, raw, manifest_change):
    from notebook2service.cli import main

    d = tmp_path_factory.mktemp("conv")
    (d / "nb.ipynb").write_bytes(raw)
    proc = _convert(d / "nb.ipynb", d / "out")
    assert proc.returncode in (0, 1, 2), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    if proc.returncode == 2:
        assert proc.stderr.strip().count("\n") == 0, proc.stderr
        return
    manifest = d / "out" / "nb2svc.json"
    text = manifest.read_text()
    if manifest_change == "truncate":
        manifest.write_text(text[: len(text) // 2])
    elif manifest_change == "nest":
        manifest.write_text('{"package": ' + "[" * 50000 + "]" * 50000 + "}")
    assert main(["check-converted", str(manifest)]) in (0, 1, 2)


def test_fuzz_seeds_are_real():
    """The suite fuzzes what it says: corpus notebooks when present, else the samples."""
    assert SEEDS and (SOURCE == "samples" or len(SEEDS) >= 10)
