"""`convert()`: a notebook → an importable package that replays it top-down.

load → analyse (dataflow, hidden-state findings) → lift (IPython syntax by kind, libcst
hoisting and step functions) → render (Jinja templates) → format (ruff) → write (atomic).
Nothing here executes notebook code.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, dataflow
from .image import notebook_python
from .lift import build, magics
from .lift.plan import Parameter, Plan, make_plan
from .linter.checker import check_notebook
from .local_modules import local_dependencies, requirement_findings
from .notebook import Notebook, NotebookError, load
from .provenance import code_sha256
from .render import render, write_tree
from .sagemaker import channels, features
from .sagemaker.container import EXECUTABLES, container_files
from .sagemaker.decide import decide


class ConvertError(Exception):
    """The notebook cannot be converted (not Python, unreadable, bad name)."""


@dataclass
class ConvertResult:
    out_dir: Path
    package: str
    manifest: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def findings(self) -> list[dict[str, Any]]:
        return self.manifest["findings"]


_MARKER = re.compile(r"^\s*# (cell (\d+)(?: \(In\[\d+\]\))?)\s*$")


def package_name(nb: Notebook, name: str | None) -> str:
    if name:
        if not name.isidentifier() or name in sys.stdlib_module_names:
            raise ConvertError(f"--name {name!r} is not a usable Python package name")
        return name
    stem = Path(nb.path).stem if not nb.path.startswith("<") else "converted_notebook"
    candidate = re.sub(r"\W+", "_", stem).strip("_").lower() or "notebook"
    import importlib.util

    try:  # `pandas.ipynb` must not become a package that shadows pandas
        shadows = importlib.util.find_spec(candidate) is not None
    except (ImportError, ValueError):
        shadows = False
    if candidate[0].isdigit():
        candidate = "nb_" + candidate
    if shadows or candidate in sys.stdlib_module_names or candidate in ("test", "tests"):
        candidate += "_pipeline"
    return candidate


def _parameters(nb: Notebook, flow: dataflow.Flow) -> tuple[list[Parameter], int | None, list[str]]:
    cell = next((c for c in nb.code_cells if "parameters" in c.tags), None)
    if cell is None:
        return [], None, []
    notes: list[str] = []
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return (
            [],
            None,
            [f"the parameters cell (cell {cell.index}) cannot be parsed; it is kept as a step"],
        )
    params: list[Parameter] = []
    for stmt in tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            try:
                value = ast.literal_eval(stmt.value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                notes.append(
                    f"parameter `{stmt.targets[0].id}` is not a literal; the parameters cell is kept as a step"
                )
                return [], None, notes
            params.append(Parameter(stmt.targets[0].id, repr(value), value))
        elif (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and stmt.value is not None
        ):
            try:
                value = ast.literal_eval(stmt.value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                return (
                    [],
                    None,
                    [
                        f"parameter `{stmt.target.id}` is not a literal; the parameters cell is kept as a step"
                    ],
                )
            params.append(Parameter(stmt.target.id, repr(value), value))
        elif not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            return (
                [],
                None,
                [
                    f"the parameters cell (cell {cell.index}) holds more than assignments; it is kept as a step"
                ],
            )
    return params, cell.index, notes


def _option(p: Parameter) -> dict[str, str]:
    v = p.value
    typ = {bool: "_bool", int: "int", float: "float", str: "str"}.get(type(v), "json.loads")
    return {
        "flag": p.name.replace("_", "-"),
        "name": p.name,
        "type": typ,
        "help": repr(f"default: {p.default_source}"),
    }


def _ruff(args: list[str], text: str, filename: str) -> tuple[int, str, str]:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--stdin-filename", filename, "-"],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def format_code(text: str, filename: str) -> str:
    """isort-style import order, then ruff's formatter."""
    rc, out, _ = _ruff(
        ["check", "--isolated", "--select", "I001", "--fix", "--exit-zero", "--quiet"],
        text,
        filename,
    )
    text = out if rc == 0 and out else text
    rc, out, _ = _ruff(["format", "--isolated", "--line-length", "100"], text, filename)
    return out if rc == 0 and out else text


def check_code(text: str, filename: str) -> list[dict[str, Any]]:
    """pyflakes rules (F) over generated code: undefined names, unused imports..."""
    rc, out, err = _ruff(
        [
            "check",
            "--isolated",
            "--select",
            "F",
            "--ignore",
            "F401,F811,F841,F403,F405",
            "--output-format",
            "json",
            "--exit-zero",
        ],
        text,
        filename,
    )
    try:
        return [
            {"code": d["code"], "message": d["message"], "line": d["location"]["row"]}
            for d in json.loads(out or "[]")
        ]
    except (ValueError, KeyError, TypeError):
        return [
            {"code": "ruff", "message": (err or out or "ruff did not run").strip()[:200], "line": 0}
        ]


def line_map(code: str) -> list[dict[str, Any]]:
    """pipeline.py line ranges → the cell each came from, read from the `# cell N` markers.

    A marker covers the lines after it that are indented deeper than the marker (or, at the
    top level, the definition that follows it), up to the next marker; a step's generated
    `return` is not part of any cell."""
    ranges: list[dict[str, Any]] = []
    lines = code.split("\n")
    i = 0
    while i < len(lines):
        m = _MARKER.match(lines[i])
        if not m:
            i += 1
            continue
        indent = len(lines[i]) - len(lines[i].lstrip())
        start = j = i + 1
        last = i
        while j < len(lines):
            text = lines[j]
            stripped = text.strip()
            if _MARKER.match(text):
                break
            depth = len(text) - len(text.lstrip())
            if stripped:
                top_level_head = indent == 0 and j == start
                if (
                    depth > indent
                    or top_level_head
                    or (indent == 0 and stripped.startswith("@") and j == last + 1)
                ):
                    last = j
                elif depth == indent and indent > 0 and not stripped.startswith("return "):
                    last = j
                else:
                    break
            j += 1
        ranges.append({"cell": int(m.group(2)), "start": start + 1, "end": last + 1})
        i = j
    return [r for r in ranges if r["end"] >= r["start"]]


def convert(
    notebook: Any,
    out_dir: str | Path | None = None,
    *,
    name: str | None = None,
    force: bool = False,
    write: bool = True,
    format_output: bool = True,
    model: str | None = None,
) -> ConvertResult:
    """Convert a notebook (path or in-memory) into a package in `out_dir`.

    Raises ConvertError for notebooks that cannot be converted and render.OutputExistsError
    when `out_dir` exists and `force` is false. Hidden-state findings do not stop the
    conversion (it follows top-down order); they are in the manifest's `findings`.
    """
    try:
        nb = load(notebook)
    except NotebookError as exc:
        raise ConvertError(str(exc)) from None
    if not nb.is_python:
        raise ConvertError(f"the kernel is {nb.kernel_name}, not Python")
    package = package_name(nb, name)
    out = Path(out_dir) if out_dir is not None else Path("build") / package
    raw_bytes = (
        nb.text.encode("utf-8")
        if nb.text is not None
        else json.dumps(nb.raw, sort_keys=True).encode()
    )
    digest = hashlib.sha256(raw_bytes).hexdigest()

    flow = dataflow.analyze(nb)
    findings: list[dict[str, Any]] = []
    # what changes the package's meaning or reproducibility (verify attributes causes to these)
    affects = ("NB204", "NB205", "NB301")
    for d in check_notebook(nb, lambda c: c.startswith(("NB0", "NB1")) or c in affects, flow):
        item = d.to_dict()
        item.pop("path", None)
        findings.append(item)

    params, params_cell, notes = _parameters(nb, flow)
    for note in notes:
        findings.append(
            {"code": "convert", "kind": "conversion", "severity": "warning", "message": note}
        )

    known = {n for f in flow.cells for n in flow.defs_of(f)} | {p.name for p in params}
    cells: dict[int, build.CellParts] = {}
    actions: list[magics.Action] = []
    pip: list[str] = []
    files: dict[str, str] = {}
    helpers: set[str] = set()
    extra_imports: set[str] = set()
    cell_map: dict[int, str] = {}
    for f in flow.cells:
        cell = f.cell
        code = magics.production_source(cell.index, f.translation, known)
        actions += code.actions
        pip += code.pip
        helpers |= code.helpers
        extra_imports |= code.imports
        for target, text in code.files.items():
            files[target] = text
        if code.source is None:
            cell_map[cell.index] = "file" if code.files else "removed"
            continue
        cells[cell.index] = build.split_cell(cell.index, cell.label(), code.source)
        if cells[cell.index].main_checks:
            actions.append(
                magics.Action(
                    cell.index,
                    0,
                    '__name__ == "__main__"',
                    "unwrapped",
                    "true in a notebook: made `True` in the package",
                )
            )
        if cells[cell.index].error:
            findings.append(
                {
                    "code": "convert",
                    "kind": "conversion",
                    "severity": "error",
                    "cell": cell.ref(),
                    "message": f"cell {cell.index} cannot be parsed ({cells[cell.index].error}); it is kept as a comment",
                }
            )

    defined_anywhere = {n for f in flow.cells for n in f.defs}
    reads_display = any(
        u.name == "display" for f in flow.cells for u in flow.expanded[f.cell.index]
    ) or any("display" in fn.free for fns in flow.functions.values() for fn in fns)
    if reads_display and "display" not in defined_anywhere:
        helpers.add("display")
        actions.append(
            magics.Action(
                0, 0, "display()", "removed", "IPython's display() → a logging no-op in _runtime"
            )
        )
    assigned: dict[str, int] = {}
    for f in flow.cells:
        for n in f.defs:
            if n not in f.functions:
                assigned[n] = assigned.get(n, 0) + 1
    ordered = [cells[i] for i in sorted(cells)]
    module_names, module_functions = build.choose_hoisting(ordered, assigned)
    module_names |= extra_imports | helpers
    # comment-only cells stay too (notes, and IPython syntax kept as a comment)
    body_cells = {
        i: bool(c.body or c.header or c.footer) or c.error is not None for i, c in cells.items()
    }
    plan: Plan = make_plan(flow, body_cells, module_names, module_functions, params, params_cell)
    sm = decide(flow, plan, model)
    extraction = None
    if sm.model and not sm.model_is_pipeline and sm.fit_x:
        steps_cells = [i for s in sm.train_steps for i in s.cells]
        extraction = features.extract(steps_cells, cells, sm.fit_x, module_names)
    if extraction is not None:  # one feature path: replace the "cannot be one function" note
        sm.feature_function, sm.target = features.FUNCTION, extraction.target
        sm.notes = [n for n in sm.notes if "not a Pipeline" not in n["message"]]
        sm.notes.append(
            {
                "code": "sagemaker",
                "kind": "sagemaker",
                "severity": "info",
                "message": f"the row-wise feature preparation of `{extraction.frame}` (cells "
                f"{', '.join(map(str, extraction.cells))}) is `{features.FUNCTION}()`, used by training "
                "and by serving",
            }
        )
    findings.extend(sm.notes)
    channel_map = sm.channel_keys()
    if channel_map:  # data-file reads become SageMaker channels (the local path is the default)
        rewritten = 0
        for c in ordered:
            for attr in ("body", "definitions"):
                nodes = []
                for stmt in getattr(c, attr):
                    new, n = channels.rewrite(stmt, channel_map)
                    nodes.append(new)
                    rewritten += n
                setattr(c, attr, nodes)
        if rewritten:
            helpers.add("read_channel")

    for name_, where in plan.undefined.items():
        findings.append(
            {
                "code": "convert",
                "kind": "conversion",
                "severity": "error",
                "message": f"`{name_}` is read in cell {where[0]} but no earlier cell defines it; "
                "the package fails there, as Restart & Run All would",
            }
        )
    for fname in sorted(module_functions):
        for fn in flow.functions.get(fname, []):
            bad = fn.free & {p.name for p in params}
            for b in sorted(bad):
                findings.append(
                    {
                        "code": "convert",
                        "kind": "conversion",
                        "severity": "warning",
                        "message": f"`{fname}` reads the parameter `{b}` as a global; pass it as an argument",
                    }
                )

    # imports: hoisted, de-duplicated, __future__ first
    seen_imports: dict[str, int] = {}
    for c in ordered:
        for stmt in c.imports:
            text = build.render(stmt).strip()
            seen_imports.setdefault(text, c.index)
    import_lines = sorted(
        seen_imports, key=lambda t: (not t.startswith("from __future__"), seen_imports[t])
    )
    for mod in sorted(extra_imports):
        line = f"import {mod}"
        if line not in seen_imports:
            import_lines.append(line)

    definitions: list[str] = []
    if extraction is not None:
        label = ", ".join(f"cell {i}" for i in extraction.cells)
        definitions.append(f"# {label}: feature preparation\n" + extraction.code.strip())
    for c in ordered:
        for d in c.definitions:
            definitions.append(f"# {c.label}\n" + build.render(d).strip())
            cell_map.setdefault(c.index, "module")
        if c.imports and not c.body and not c.definitions:
            cell_map.setdefault(c.index, "imports")
    steps_code: list[str] = []
    for step in plan.steps:
        labels = [cells[i].label for i in step.cells]
        doc = f"{step.heading or 'Notebook'} — {', '.join(labels)}."
        steps_code.append(build.render(build.step_function(step, cells, doc)).strip())
        for i in step.cells:
            cell_map[i] = step.name
    if params_cell is not None:
        cell_map[params_cell] = "parameters"
    for c in ordered:
        cell_map.setdefault(
            c.index, "module" if c.definitions else "imports" if c.imports else "empty"
        )

    title = next(
        (h for c in nb.cells if c.cell_type == "markdown" for h in [_title(c.source)] if h), package
    )
    notebook_name = Path(nb.path).name if not nb.path.startswith("<") else nb.path
    context = {
        "title": title,
        "version": __version__,
        "notebook": notebook_name,
        "digest": digest,
        "package": package,
    }
    context["python_version"], python_source = notebook_python(nb.metadata)
    pipeline = render(
        "package/pipeline.py.j2",
        imports=import_lines,
        helpers=sorted(helpers),
        definitions=definitions,
        steps=steps_code,
        run=build.render(build.run_function(plan)).strip(),
        **context,
    )
    if format_output:
        pipeline = format_code(pipeline, f"{package}/pipeline.py")
    ruff_findings = check_code(pipeline, f"{package}/pipeline.py")
    for r in ruff_findings:
        findings.append(
            {
                "code": r["code"],
                "kind": "generated-code",
                "severity": "error",
                "message": f"pipeline.py line {r['line']}: {r['message']}",
            }
        )

    from .requirements import infer

    top_modules = set()
    for f in flow.cells:
        for qual in f.imports.values():
            if not qual.startswith("."):
                top_modules.add(qual.split(".")[0])
    local = {Path(t).stem for t in files if t.endswith(".py")}
    nb_dir = Path(nb.path).resolve().parent if not nb.path.startswith("<") else None
    local_found = local_dependencies(nb_dir, top_modules, files, findings)
    local |= local_found.names
    if sm.model:  # what the container needs to save, load and serve the model
        top_modules |= {"skops", "numpy", *serving_modules()}
    reqs = infer(sorted(top_modules), pip, local_modules=local, needed=top_modules & {"IPython"})
    findings.extend(requirement_findings(reqs.warnings))
    req_lines = [r.line() for r in reqs]

    uses_pandas = "pandas" in top_modules
    main_py = render(
        "package/__main__.py.j2",
        options=[_option(p) for p in params],
        uses_pandas=uses_pandas,
        **context,
    )
    if format_output:
        main_py = format_code(main_py, f"{package}/__main__.py")
    out_files: dict[str, str] = {
        f"{package}/__init__.py": render("package/__init__.py.j2", **context),
        f"{package}/__main__.py": main_py,
        f"{package}/pipeline.py": pipeline,
        "requirements.txt": render(
            "package/requirements.txt.j2", lines=reqs.lines(), **context
        ),
        "pyproject.toml": render(
            "package/pyproject.toml.j2",
            distribution=package.replace("_", "-"),
            requirements=req_lines,
            python_min=f"{sys.version_info.major}.{sys.version_info.minor}",
            **context,
        ),
    }
    if helpers:
        out_files[f"{package}/_runtime.py"] = render("package/_runtime.py.j2", **context)
    notebook_dir = str(nb_dir) if nb_dir else ""
    extra = {t for t in files if not Path(t).is_absolute()} | set(local_found.files)
    out_files.update(container_files(sm, plan, context, sorted(extra), notebook_dir))
    out_files.update(local_found.files)
    for target, text in files.items():
        rel = Path(target)
        if rel.is_absolute() or ".." in rel.parts:
            findings.append(
                {
                    "code": "convert",
                    "kind": "conversion",
                    "severity": "warning",
                    "message": f"%%writefile {target}: path outside the package; not written",
                }
            )
            continue
        out_files[rel.as_posix()] = text

    manifest = {
        "nb2svc": __version__,
        "package": package,
        "notebook": notebook_name,
        "notebook_sha256": digest,
        "code_sha256": code_sha256(nb),
        "notebook_path": (
            Path(os.path.relpath(Path(nb.path).resolve(), out.resolve())).as_posix()
            if not nb.path.startswith("<")
            else None
        ),
        "entrypoint": f"python -m {package}",
        "cells": [
            {
                "index": c.index,
                "id": c.id,
                "execution_count": c.execution_count,
                "target": cell_map.get(c.index, "empty"),
            }
            for c in nb.code_cells
        ],
        "steps": [
            {
                "function": s.name,
                "cells": s.cells,
                "heading": s.heading,
                "parameters": s.params,
                "returns": s.returns,
                "globals": s.global_names,
            }
            for s in plan.steps
        ],
        "parameters": [
            {"name": p.name, "default": p.value, "option": "--" + p.name.replace("_", "-")}
            for p in params
        ],
        "module_level": sorted(module_functions),
        "shared_globals": sorted(plan.shared_globals),
        "ipython": [a.to_dict() for a in actions],
        "data_acquisition": [a.to_dict() for a in actions if a.kind == "data"],
        "files": sorted(files),
        "requirements": [
            {
                "name": r.name,
                "specifier": r.specifier,
                "modules": list(r.modules),
                "source": r.source,
                "installed": r.installed,
                "note": r.note,
            }
            for r in reqs
        ],
        "line_map": {"pipeline.py": line_map(pipeline)},
        "sagemaker": sm.to_dict(),
        "environment": {
            "python": context["python_version"],
            "python_from": python_source,
            "requirements_from": sys.executable,
            "local_modules": sorted(local_found.files),
        },
        "findings": findings,
    }
    out_files["nb2svc.json"] = json.dumps(manifest, indent=2, default=str) + "\n"
    if write:
        write_tree(out, out_files, force=force, executable=EXECUTABLES)
    return ConvertResult(out, package, manifest, out_files)


def serving_modules() -> list[str]:
    """Import names of the serving stack's own dependencies (pinned like the notebook's)."""
    try:
        from .sagemaker.serving_deps import SERVING_REQUIREMENTS
    except ImportError:
        return []
    return [re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].strip() for r in SERVING_REQUIREMENTS]


def _title(source: str) -> str | None:
    m = re.search(r"^\s{0,3}#\s+(.+?)\s*$", source, re.M)
    return m.group(1).strip() if m else None
