"""`verify()`: run a notebook and its converted package, and compare what they print.

This is the one part of nb2svc that EXECUTES code. Everything else reads notebooks only.

1. The notebook runs top-down in a fresh kernel with papermill (cwd = the notebook's folder).
   Each code cell's stdout is the concatenation of its ``stream`` outputs named ``stdout``.
   Cells papermill adds (tags ``injected-parameters`` and ``papermill-error-cell-tag``) are
   ignored; executed cells are matched to the notebook's cells by id (by position when ids
   are missing or repeated). The outputs saved in the .ipynb are never used: the comparison
   is between a fresh run of the notebook and a fresh run of the package.
2. The notebook is converted with ``convert()`` into a temporary folder.
3. The package runs in a fresh ``python`` process, as ``python -m <package>`` would run it
   (cwd = the notebook's folder, ``PYTHONPATH`` = the package folder first,
   ``MPLBACKEND=Agg``, ``PYTHONUNBUFFERED=1``, ``PYTHONIOENCODING=utf-8``, no stdin). A small
   harness wraps each step function of ``<package>.pipeline`` so that a marker line is
   written to stdout before the step runs, then runs ``<package>.__main__`` with ``runpy``
   exactly as ``python -m`` does (libraries that look at ``__main__``, like pandas' display
   width, behave the same); stdout is then split into one text per step. Output printed while
   the package is imported (module-level code) forms its own segment. A traceback's
   ``pipeline.py`` line is mapped back to its cell.
4. Both sides are normalized, and only like this:

   - line ends: ``\\r\\n`` and a lone ``\\r`` become ``\\n`` (both sides);
   - chatter that IPython magics print and the package must not print is removed from the
     notebook side, only in cells where the manifest's ``ipython`` actions show that magic,
     and only whole lines that match exactly:

     ===========================  ==================================================
     magic in the cell            lines removed
     ===========================  ==================================================
     ``%time`` / ``%%time``       ``CPU times: …``, ``Wall time: …``,
                                  ``Compiler : …``, ``Parser   : …``
     ``%timeit`` / ``%%timeit``   ``… per loop (mean ± std. dev. of N runs, M loops
                                  each)``, ``N loops, best of K: … per loop``,
                                  ``The slowest run took … times longer …``
     ``%%writefile``              ``Writing X``, ``Overwriting X``, ``Appending to X``
     ``%env`` / ``%set_env``      ``env: NAME=value``
     ``%pip`` / ``!pip install``  ``Note: you may need to restart the kernel to use
     (kept as a requirement)      updated packages.``, ``Requirement already
                                  satisfied: …``
     ===========================  ==================================================

5. The texts are compared segment by segment (module level, then each step in manifest
   order) and in total. The first line that differs is attributed to the notebook cell that
   printed it; the likely cause comes from the findings about that cell (the manifest's,
   plus NB101/103/104/106/204, which ``verify`` checks itself when the manifest has none),
   in this order: NB204 → "randomness without a seed" (also
   when an earlier cell draws unseeded random numbers), a ``convert`` or generated-code
   finding or an IPython action kept as a comment / run as a shell command / fetching data
   / turned into a requirement → "conversion limit", NB101/NB106 → "execution order",
   NB103/NB104 → "deleted cell", otherwise "unknown". A cell that raises in the notebook is
   "notebook error"; a package that exits with an error or times out is "package error".

``timeout`` bounds each notebook cell and the whole package run. Temporary folders are always
removed; with ``workdir`` the executed notebook
(``<stem>.executed.ipynb``), the package (``package/``) and the package's stdout and
stderr are kept there for inspection.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .findings import Finding
from .manifest import Manifest
from .requirements import installs_packages

__all__ = [
    "CAUSES",
    "StepResult",
    "VerifyError",
    "VerifyReport",
    "normalize",
    "report_text",
    "verify",
]

CAUSES = (
    "execution order",
    "deleted cell",
    "randomness without a seed",
    "conversion limit",
    "notebook error",
    "package error",
    "unknown",
)

MODULE_LEVEL = "(module level)"
_IGNORED_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


class VerifyError(Exception):
    """The notebook cannot be verified at all (unreadable, not Python, no such kernel)."""


@dataclass
class StepResult:
    function: str  # the step function, or "(module level)" for import-time output
    cells: list[int]
    equal: bool
    expected: str  # the notebook's normalized stdout of the step's cells
    actual: str  # what the package printed while the step ran
    ran: bool = True  # the package called the step


@dataclass
class VerifyReport:
    equal: bool
    notebook: str
    package: str | None
    first_cell: int | None
    expected: str
    actual: str
    cause: str | None  # one of CAUSES, None when equal
    explanation: str
    steps: list[StepResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    module_level: StepResult | None = None
    first_step: str | None = None  # the step (function) where the first difference is
    execution_count: int | None = None  # the saved In[..] of first_cell
    normalized: list[dict[str, Any]] = field(default_factory=list)
    total_equal: bool | None = None
    lines: int = 0  # lines of (normalized) notebook stdout
    stderr_tail: str = ""  # package error: the last lines of its stderr
    workdir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- normalization ---------------------------------------------------------------------

_CHATTER: dict[str, list[re.Pattern[str]]] = {
    "time": [
        re.compile(r"CPU times: .*"),
        re.compile(r"Wall time: .*"),
        re.compile(r"Compiler : .*"),
        re.compile(r"Parser   : .*"),
    ],
    "timeit": [
        re.compile(r".+ per loop \(mean ± std\. dev\. of [\d,]+ runs?, [\d,]+ loops? each\)"),
        re.compile(r"[\d,]+ loops?, best of \d+: .+ per loop"),
        re.compile(r"The slowest run took .+ times longer than the fastest\..*"),
    ],
    "writefile": [re.compile(r"(?:Writing|Overwriting|Appending to) .+")],
    "env": [re.compile(r"env: [A-Za-z_]\w*=.*")],
    "pip": [
        re.compile(r"Note: you may need to restart the kernel to use updated packages\."),
        re.compile(r"Requirement already satisfied: .*"),
    ],
}
_MAGIC_OF = {
    "time": "time",
    "timeit": "timeit",
    "writefile": "writefile",
    "env": "env",
    "set_env": "env",
    "pip": "pip",
}
_MAGIC_NAME = re.compile(r"%{1,2}([A-Za-z_]\w*)")


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _chatter_kinds(actions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(kind, magic as written) for the magics of one cell whose chatter is removed."""
    kinds: list[tuple[str, str]] = []
    for a in actions:
        syntax = str(a.get("syntax") or "")
        m = _MAGIC_NAME.search(syntax)
        kind = _MAGIC_OF.get(m.group(1)) if m else None
        if kind is None and a.get("action") == "requirement" and installs_packages(syntax.lstrip("!%")):
            kind = "pip"
        if kind is not None and kind not in (k for k, _ in kinds):
            shown = m.group(0) if m and m.group(1) in _MAGIC_OF else "!pip install"
            kinds.append((kind, shown))
    return kinds


def normalize(text: str, magics: list[str] = ()) -> tuple[str, list[str]]:
    """Normalize one cell's stdout; `magics` are chatter kinds (time, timeit, writefile, env,
    pip). Returns the text and the lines removed."""
    text = _newlines(text)
    patterns = [p for kind in magics for p in _CHATTER.get(kind, [])]
    if not patterns:
        return text, []
    kept: list[str] = []
    removed: list[str] = []
    for line in text.splitlines(keepends=True):
        if any(p.fullmatch(line.rstrip("\n")) for p in patterns):
            removed.append(line.rstrip("\n"))
        else:
            kept.append(line)
    return "".join(kept), removed


# -- the notebook side -----------------------------------------------------------------


def _stdout_of(cell: Any) -> str:
    parts: list[str] = []
    for out in cell.get("outputs") or []:
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            text = out.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else str(text))
    return "".join(parts)


def _match_cells(nb: Any, executed: Any) -> dict[int, Any]:
    """Original code cell index (1-based over all cells) → executed cell."""
    ex_cells = [
        c
        for c in executed.get("cells", [])
        if c.get("cell_type") == "code"
        and not _IGNORED_TAGS & set((c.get("metadata") or {}).get("tags") or [])
    ]
    originals = nb.code_cells
    ids = [c.id for c in originals]
    ex_ids = [c.get("id") for c in ex_cells]
    usable = (
        all(ids)
        and len(set(ids)) == len(ids)
        and all(ex_ids)
        and len(set(ex_ids)) == len(ex_ids)
        and set(ids) <= set(ex_ids)
    )
    if usable:
        by_id = {c.get("id"): c for c in ex_cells}
        return {c.index: by_id[c.id] for c in originals}
    return {c.index: e for c, e in zip(originals, ex_cells, strict=False)}


def _failed_cell(nb: Any, executed: Any, running: bool) -> int | None:
    """The original index of the cell that raised (or was running, for timeouts)."""
    matched = _match_cells(nb, executed)
    if running:  # the last cell that papermill started
        started = [
            index
            for index, cell in sorted(matched.items())
            if ((cell.get("metadata") or {}).get("papermill") or {}).get("start_time")
        ]
        return started[-1] if started else None
    for index, cell in sorted(matched.items()):
        pm_md = (cell.get("metadata") or {}).get("papermill") or {}
        for out in cell.get("outputs") or []:
            if out.get("output_type") == "error" and not (
                out.get("ename") == "SystemExit" and out.get("evalue") in ("", "0")
            ):
                return index
        if pm_md.get("exception") is True:
            return index
    return None


def _run_notebook(
    path: Path, output: Path, kernel_name: str, timeout: float
) -> tuple[Any, dict[str, Any] | None]:
    """Execute with papermill. Returns (executed notebook or None, error details or None)."""
    try:
        import nbformat
        import papermill as pm
        from jupyter_client.kernelspec import NoSuchKernel
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise VerifyError(
            f"verify needs papermill and ipykernel ({exc.name} is not installed): "
            "pip install papermill ipykernel"
        ) from None
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    logger = logging.getLogger("papermill")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        executed = pm.execute_notebook(
            str(path),
            str(output),
            kernel_name=kernel_name,
            cwd=str(path.parent),
            execution_timeout=timeout,
            progress_bar=False,
            log_output=False,
            # the kernel's own start-up warnings (e.g. "running over TCP") are not ours
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        return executed, None
    except pm.PapermillExecutionError as exc:
        return _read(output, nbformat), {
            "kind": "error",
            "ename": exc.ename,
            "evalue": exc.evalue,
            "exec_count": exc.exec_count,
        }
    except CellTimeoutError:
        return _read(output, nbformat), {"kind": "timeout", "ename": "timeout", "evalue": ""}
    except DeadKernelError as exc:
        return _read(output, nbformat), {
            "kind": "dead",
            "ename": "DeadKernelError",
            "evalue": str(exc).strip().splitlines()[-1:],
        }
    except NoSuchKernel:
        raise VerifyError(f"no Jupyter kernel named {kernel_name!r} is installed") from None
    except RuntimeError as exc:
        if "kernel" in str(exc).lower():
            raise VerifyError(f"the kernel did not start: {str(exc).strip()[:200]}") from None
        raise
    finally:
        logger.setLevel(level)


def _read(output: Path, nbformat: Any) -> Any:
    try:
        return nbformat.read(str(output), as_version=4)
    except Exception:  # noqa: BLE001 - the notebook may not have been written at all
        return {"cells": []}


# -- the package side ------------------------------------------------------------------

_MARK = re.compile("\x1enb2svc-(step:[^\x1e\n]*|run)\x1e\n")

_HARNESS = r"""
import functools, importlib, runpy, sys
PKG, STEPS = sys.argv[1], sys.argv[2:]
sys.argv = [sys.argv[0]]

def _mark(name):
    sys.stdout.flush()
    sys.stdout.write("\x1enb2svc-" + name + "\x1e\n")
    sys.stdout.flush()

_p = importlib.import_module(PKG + ".pipeline")

def _wrap(name, f):
    @functools.wraps(f)
    def step(*args, **kwargs):
        _mark("step:" + name)
        return f(*args, **kwargs)
    return step

for _name in STEPS:
    _f = getattr(_p, _name, None)
    if callable(_f):
        setattr(_p, _name, _wrap(_name, _f))
_mark("run")
runpy.run_module(PKG, run_name="__main__", alter_sys=True)
"""


@dataclass
class _PackageRun:
    returncode: int | None  # None: timed out
    stdout: str
    stderr: str
    segments: dict[str, str]  # MODULE_LEVEL / step function → text
    order: list[str]  # steps in the order their markers appeared
    seconds: float


def _run_package(
    out: Path, package: str, steps: list[str], cwd: Path, timeout: float
) -> _PackageRun:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(out)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env.update(MPLBACKEND="Agg", PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _HARNESS, package, *steps],
        cwd=str(cwd),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        raw_out, raw_err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raw_out, raw_err = proc.communicate()
        code = None
    finally:
        if proc.poll() is None:  # pragma: no cover - interrupted
            _kill_group(proc)
    seconds = time.perf_counter() - start
    stdout = raw_out.decode("utf-8", errors="replace")
    stderr = raw_err.decode("utf-8", errors="replace")
    segments: dict[str, str] = {MODULE_LEVEL: ""}
    order: list[str] = []
    current = MODULE_LEVEL
    pos = 0
    for m in _MARK.finditer(stdout):
        segments[current] = segments.get(current, "") + stdout[pos : m.start()]
        pos = m.end()
        if m.group(1) == "run":
            current = MODULE_LEVEL
        else:
            current = m.group(1)[len("step:") :]
            order.append(current)
    segments[current] = segments.get(current, "") + stdout[pos:]
    clean = _MARK.sub("", stdout)
    return _PackageRun(code, clean, stderr, segments, order, seconds)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


_TRACE_LINE = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def _cell_of_traceback(
    stderr: str, out: Path, package: str, manifest: Manifest
) -> int | None:
    """The notebook cell whose statement was running when the package failed."""
    pipeline = (out / package / "pipeline.py").resolve()
    frames: list[tuple[int, str]] = []
    for m in _TRACE_LINE.finditer(stderr):
        try:
            if Path(m.group(1)).resolve() == pipeline:
                frames.append((int(m.group(2)), m.group(3)))
        except (OSError, ValueError):
            continue
    if not frames:
        return None
    # the outermost frame below run(): a step's statement, or module-level code at import
    line = next((n for n, name in frames if name != "run"), frames[-1][0])
    return _cell_of_line(manifest, line)


def _cell_of_line(manifest: Manifest, line: int) -> int | None:
    """pipeline.py line → cell, from the manifest's line map (built from the syntax tree)."""
    for r in manifest.line_map.get("pipeline.py", []):
        if r.get("start", 0) <= line <= r.get("end", -1):
            return r.get("cell")
    return None


# -- causes ----------------------------------------------------------------------------


def _findings_by_cell(manifest: Manifest) -> dict[int, list[Finding]]:
    """Convert's findings (hidden state, unseeded randomness, conversion limits) by cell: the
    finding's `cell`, else its generated-file line through the line map."""
    by_cell: dict[int, list[Finding]] = {}
    for f in manifest.findings:
        index = f.cell_index
        if index is None and f.file == "pipeline.py" and isinstance(f.file_line, int):
            index = _cell_of_line(manifest, f.file_line)
        if index is not None:
            by_cell.setdefault(index, []).append(f)
    return by_cell


def _cause(
    cell: int, manifest: Manifest, by_cell: dict[int, list[Finding]], label: str
) -> tuple[str, str]:
    findings = by_cell.get(cell, [])
    codes = {f.code: f for f in findings}
    if "NB204" in codes:
        return (
            "randomness without a seed",
            f"{label} uses random numbers that are never seeded ({codes['NB204'].message}), "
            "so every run prints different values",
        )
    convert_findings = [f for f in findings if _is_conversion(f)]
    if convert_findings:
        return "conversion limit", f"{label}: {convert_findings[0].message}"
    for a in manifest.ipython:
        if a.get("cell") == cell and a.get("action") in ("comment", "shell", "data", "requirement"):
            what = {
                "comment": "is kept as a comment",
                "shell": "runs as a shell command",
                "data": "fetches data with a shell command",
                "requirement": "becomes a requirement and is not run",
            }[a["action"]]
            return (
                "conversion limit",
                f"{label} uses `{a.get('syntax')}`, which in the package {what}, "
                "so its output can differ",
            )
    for code in ("NB101", "NB106"):
        if code in codes:
            return "execution order", f"{label}: {codes[code].message}"
    for code in ("NB104", "NB103"):
        if code in codes:
            return "deleted cell", f"{label}: {codes[code].message}"
    earlier = [
        (i, f) for i in sorted(by_cell) if i < cell for f in by_cell[i] if f.code == "NB204"
    ]
    if earlier:
        i, f = earlier[-1]
        return (
            "randomness without a seed",
            f"{label} prints results that depend on unseeded random numbers drawn in cell {i} "
            f"({f.message})",
        )
    return (
        "unknown",
        f"{label} printed something else in the package, and nb2svc has no finding that "
        "explains it (likely a conversion bug; keep both with --keep DIR, or workdir=, "
        "to inspect them)",
    )


# -- comparison ------------------------------------------------------------------------


def _first_difference(expected_parts: list[tuple[int, str]], actual: str) -> tuple[int | None, int]:
    """(cell that printed the first differing line, that line's number) within a segment."""
    exp_lines: list[str] = []
    owners: list[int] = []
    for cell, text in expected_parts:
        for line in text.splitlines(keepends=True):
            exp_lines.append(line)
            owners.append(cell)
    act_lines = actual.splitlines(keepends=True)
    k = 0
    while k < len(exp_lines) and k < len(act_lines) and exp_lines[k] == act_lines[k]:
        k += 1
    cells = [c for c, _ in expected_parts]
    if k < len(exp_lines):
        return owners[k], k
    if not cells:
        return None, k
    if not owners:  # the notebook printed nothing here; the package did
        return cells[0], k
    after = cells.index(owners[-1]) + 1
    return (cells[after] if after < len(cells) else cells[-1]), k


def _label(cell: int | None, counts: dict[int, int | None]) -> str:
    if cell is None:
        return "the package"
    count = counts.get(cell)
    return f"cell {cell} (In[{count}])" if count is not None else f"cell {cell}"


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def verify(
    notebook_path: str | os.PathLike[str],
    *,
    timeout: float = 600,
    workdir: str | os.PathLike[str] | None = None,
    kernel_name: str = "python3",
) -> VerifyReport:
    """Run the notebook (papermill) and its converted package; compare their stdout.

    `timeout` bounds each notebook cell and the whole package run, in seconds. With
    `workdir`, the executed notebook and the package are kept there. Raises VerifyError
    when the notebook cannot be read, is not Python, or the kernel does not exist.
    """
    from .notebook import NotebookError, load_python

    path = Path(notebook_path)
    try:
        nb = load_python(path, "; verify runs Python only")
    except NotebookError as exc:
        raise VerifyError(str(exc)) from None
    path = path.resolve()
    if workdir is not None:
        work = Path(workdir)
        work.mkdir(parents=True, exist_ok=True)
        return _verify(nb, path, work, timeout, kernel_name, keep=True)
    with tempfile.TemporaryDirectory(prefix="nb2svc-verify-") as tmp:
        return _verify(nb, path, Path(tmp), timeout, kernel_name, keep=False)


def _verify(
    nb: Any, path: Path, work: Path, timeout: float, kernel_name: str, keep: bool
) -> VerifyReport:
    """The passes: run the notebook → convert → run the package → normalise → compare →
    explain the first difference (or the failure)."""
    v = _Run(nb, path, work, timeout, keep, _new_report(path, work, keep))
    executed = _notebook_pass(v, kernel_name)
    if executed is None:
        return v.report
    _convert_pass(v)
    _package_pass(v)
    expected = _expected_output(v, executed)
    module_cells = _compare(v, expected)
    if v.run.returncode != 0:
        return _package_failed(v)
    for seg in [v.report.module_level, *v.report.steps]:
        if not seg.equal:
            return _segment_differs(v, seg, expected)
    if not v.report.total_equal:
        return _output_moved(v, expected, module_cells)
    v.report.equal = True
    v.report.explanation = "the package printed exactly what the notebook printed"
    return v.report


@dataclass
class _Run:
    """What the verify passes share."""

    nb: Any
    path: Path
    work: Path
    timeout: float
    keep: bool
    report: VerifyReport
    result: Any = None  # convert.ConvertResult
    manifest: Manifest | None = None  # its manifest, read through the one type
    run: Any = None  # the package run
    by_cell: dict[int, list[Finding]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[int, int | None]:
        return {c.index: c.execution_count for c in self.nb.code_cells}

    @property
    def out(self) -> Path:
        return self.work / "package"

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.manifest.steps if self.manifest is not None else []

    def at(self, cell: int | None) -> None:
        self.report.first_cell = cell
        self.report.execution_count = self.counts.get(cell) if cell else None


def _new_report(path: Path, work: Path, keep: bool) -> VerifyReport:
    return VerifyReport(
        equal=False,
        notebook=str(path),
        package=None,
        first_cell=None,
        expected="",
        actual="",
        cause=None,
        explanation="",
        timings={"notebook_s": 0.0, "convert_s": 0.0, "package_s": 0.0},
        workdir=str(work) if keep else None,
    )


def _notebook_pass(v: _Run, kernel_name: str) -> Any:
    """a. the notebook, in a fresh kernel; None (and the report says why) when it fails."""
    start = time.perf_counter()
    target = v.work / f"{v.path.stem}.executed.ipynb"
    executed, error = _run_notebook(v.path, target, kernel_name, v.timeout)
    v.report.timings["notebook_s"] = round(time.perf_counter() - start, 3)
    if error is None:
        if not v.keep:
            target.unlink(missing_ok=True)
        return executed
    cell = _failed_cell(v.nb, executed, running=error["kind"] == "timeout")
    v.at(cell)
    v.report.cause = "notebook error"
    where = _label(cell, v.counts) if cell else "a cell"
    if error["kind"] == "timeout":
        what = f"did not finish within {v.timeout:g} s"
    elif error["kind"] == "dead":
        what = "killed the kernel"
    else:
        evalue = str(error.get("evalue") or "").strip().splitlines()
        what = f"raised {error['ename']}" + (f": {evalue[0][:200]}" if evalue else "")
    v.report.explanation = (
        f"{where} {what} when the notebook ran top-down in a fresh kernel; "
        "fix the notebook first (there is nothing to compare)"
    )
    return None


def _convert_pass(v: _Run) -> None:
    """b. convert; its manifest's findings, by cell, explain differences later."""
    from .convert import ConvertError, convert

    start = time.perf_counter()
    try:
        v.result = convert(str(v.path), v.out, force=True)
    except ConvertError as exc:
        raise VerifyError(f"cannot convert: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a converter bug: one line, not a traceback
        raise VerifyError(
            f"convert failed ({type(exc).__name__}: {exc}); this is a bug in nb2svc convert"
        ) from exc
    v.report.timings["convert_s"] = round(time.perf_counter() - start, 3)
    v.report.package = v.result.package
    v.manifest = v.result.manifest
    v.by_cell = _findings_by_cell(v.manifest)


def _package_pass(v: _Run) -> None:
    """c. the package, in a fresh process."""
    functions = [s["function"] for s in v.steps]
    v.run = _run_package(v.out, v.result.package, functions, v.path.parent, v.timeout)
    v.report.timings["package_s"] = round(v.run.seconds, 3)
    if v.keep:
        (v.work / "package.stdout.txt").write_text(v.run.stdout, encoding="utf-8")
        (v.work / "package.stderr.txt").write_text(v.run.stderr, encoding="utf-8")


def _expected_output(v: _Run, executed: Any) -> dict[int, str]:
    """d. the notebook's stdout per cell, without the chatter of the magics convert removed."""
    matched = _match_cells(v.nb, executed)
    actions_by_cell: dict[int, list[dict[str, Any]]] = {}
    for a in v.manifest.ipython:
        actions_by_cell.setdefault(a.get("cell"), []).append(a)
    expected: dict[int, str] = {}
    for c in v.nb.code_cells:
        raw = _stdout_of(matched[c.index]) if c.index in matched else ""
        kinds = _chatter_kinds(actions_by_cell.get(c.index, []))
        text, removed = normalize(raw, [k for k, _ in kinds])
        expected[c.index] = text
        if removed:
            v.report.normalized.append(
                {"cell": c.index, "magics": [shown for _, shown in kinds], "removed": removed}
            )
    return expected


def _compare(v: _Run, expected_by_cell: dict[int, str]) -> list[int]:
    """e. compare per step (and module level) and in total; returns the module-level cells."""
    in_steps = {i for s in v.steps for i in s.get("cells", [])}
    module_cells = [c.index for c in v.nb.code_cells if c.index not in in_steps]

    def segment(function: str, cells: list[int], ran: bool) -> StepResult:
        expected = "".join(expected_by_cell.get(i, "") for i in cells)
        actual = _newlines(v.run.segments.get(function, ""))
        return StepResult(function, cells, expected == actual, expected, actual, ran)

    v.report.module_level = segment(MODULE_LEVEL, module_cells, True)
    v.report.steps = [
        segment(s["function"], list(s.get("cells", [])), s["function"] in v.run.order)
        for s in v.steps
    ]
    total_expected = "".join(expected_by_cell[c.index] for c in v.nb.code_cells)
    v.report.total_equal = total_expected == _newlines(v.run.stdout)
    v.report.lines = len(total_expected.splitlines())
    return module_cells


def _package_failed(v: _Run) -> VerifyReport:
    """The package exited with an error or timed out: where, and what convert had warned."""
    run, report = v.run, v.report
    running = run.order[-1] if run.order else None
    cell = _cell_of_traceback(run.stderr, v.out, v.result.package, v.manifest)
    step = next((s for s in v.steps if s["function"] == running), None)
    if cell is None and step and step.get("cells"):
        cell = step["cells"][0]
    v.at(cell)
    report.first_step, report.cause = running, "package error"
    report.stderr_tail = _tail(run.stderr)
    failing = next((ln for ln in reversed(run.stderr.strip().splitlines()) if ln.strip()), "")
    where = (
        f"in step `{running}()`"
        if running
        else "while it was imported (module-level code: hoisted imports, functions, classes)"
    )
    at = f" at {_label(cell, v.counts)}" if cell else ""
    if run.returncode is None:
        report.explanation = f"the package did not finish within {v.timeout:g} s ({where}{at})"
    else:
        report.explanation = (
            f"the package exited with status {run.returncode} {where}{at}: "
            f"{failing.strip()[:300] or 'no error message'} (the notebook ran fine top-down)"
        )
    warned = [f for f in (v.by_cell.get(cell, []) if cell else []) if _is_conversion(f)]
    if warned:
        report.explanation += f"; convert had warned: {warned[0].message}"
    seg = next((s for s in report.steps if s.function == running), report.module_level)
    report.expected, report.actual = seg.expected, seg.actual
    return report


def _is_conversion(f: Finding) -> bool:
    return f.code == "convert" or f.kind == "generated-code"


def _segment_differs(v: _Run, seg: StepResult, expected_by_cell: dict[int, str]) -> VerifyReport:
    """The first step (or module level) whose output differs: its first differing cell."""
    report = v.report
    parts = [(i, expected_by_cell.get(i, "")) for i in seg.cells]
    cell, _ = _first_difference(parts, seg.actual)
    report.first_step = seg.function if seg.function != MODULE_LEVEL else None
    v.at(cell)
    report.expected, report.actual = seg.expected, seg.actual
    label = _label(cell, v.counts)
    if not seg.ran:
        report.cause = "unknown"
        report.explanation = f"the package never called `{seg.function}()` ({label})"
    elif cell is None:
        report.cause, report.explanation = (
            "unknown",
            "the package printed output at module level that no notebook cell printed",
        )
    else:
        report.cause, report.explanation = _cause(cell, v.manifest, v.by_cell, label)
    return report


def _output_moved(
    v: _Run, expected_by_cell: dict[int, str], module_cells: list[int]
) -> VerifyReport:
    """Every segment matches, but output printed at import time moved to the front."""
    cell = next((i for i in module_cells if expected_by_cell.get(i)), None)
    v.at(cell)
    v.report.cause = "conversion limit"
    v.report.explanation = (
        f"{_label(cell, v.counts)} prints while the package is imported (its code runs at "
        "module level), so its output comes before the steps' output"
    )
    total = "".join(expected_by_cell[c.index] for c in v.nb.code_cells)
    v.report.expected, v.report.actual = total, _newlines(v.run.stdout)
    return v.report


# -- text report -----------------------------------------------------------------------


def _diff(expected: str, actual: str, name: str, limit: int = 20) -> list[str]:
    lines = list(
        difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            fromfile=f"notebook ({name})",
            tofile=f"package ({name})",
            n=2,
            lineterm="",
        )
    )
    if len(lines) > limit:
        lines = lines[:limit] + [f"… ({len(lines) - limit} more diff lines)"]
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def report_text(report: VerifyReport) -> str:
    """A short human report: equal / different, the cause, a small diff, timings."""
    out: list[str] = []
    if report.equal:
        out.append(
            "equal: the package printed exactly what the notebook printed "
            f"({_plural(len(report.steps), 'step')}, {_plural(report.lines, 'line')})"
        )
    else:
        if report.first_cell is not None:
            where = _label(report.first_cell, {report.first_cell: report.execution_count})
            out.append(f"different: {where} — {report.cause}: {report.explanation}")
        else:
            out.append(f"different: {report.cause}: {report.explanation}")
        if report.cause == "package error" and report.stderr_tail:
            out.append("package stderr (last lines):")
            out += ["  " + ln for ln in report.stderr_tail.splitlines()]
        elif report.cause != "notebook error" and (report.expected or report.actual):
            name = f"{report.first_step}()" if report.first_step else MODULE_LEVEL
            out += _diff(report.expected, report.actual, name)
    if report.normalized:
        parts = [
            f"cell {n['cell']} ({', '.join(n['magics'])}: {_plural(len(n['removed']), 'line')})"
            for n in report.normalized
        ]
        out.append("normalized: magic chatter removed from the notebook side: " + "; ".join(parts))
    t = report.timings
    out.append(
        f"timings: notebook {t.get('notebook_s', 0):.1f} s, convert {t.get('convert_s', 0):.1f} s, "
        f"package {t.get('package_s', 0):.1f} s"
    )
    if report.workdir:
        out.append(f"kept: {report.workdir}")
    return "\n".join(out)
