"""`convert()`: a notebook → an importable package that replays it top-down.

`convert()` runs a list of passes, each a short function from typed input to typed output:
analyse → parameters → lift → plan → SageMaker plan → assemble → manifest. Nothing here
executes notebook code.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import keyword
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst

from . import __version__, dataflow
from .findings import CellRef, Finding, note
from .generated import check_code, check_notebook_code, format_code, same_finding
from .image import notebook_python
from .lift import build, display, magics, pieces
from .lift.constants import hoist_constants, is_constant
from .lift.imports import place_imports
from .lift.interpolate import code_of
from .lift.module import Definition, Pipeline, Span, import_key, pipeline_module
from .lift.plan import Parameter, Plan, definition_counts, make_plan
from .lift.secrets_env import secrets_from_env
from .linter.checker import check_notebook
from .local_modules import image_environment, local_dependencies, requirement_findings
from .manifest import FILENAME, Manifest
from .model_code import model_code_import, split_definitions
from .notebook import Notebook, NotebookError, load_python
from .output import check_output_dir, write_tree
from .provenance import code_sha256
from .redact import MARKER, find_secrets, is_secret_name, redact_data, redact_files
from .render import render
from .sagemaker import channels, features
from .sagemaker.container import EXECUTABLES, container_files, runtime_entry, runtime_wheel
from .sagemaker.decide import (
    FoundModel,
    SageMakerPlan,
    decide,
    find_model,
    refresh_parts,
    training_cells_for,
)
from .sagemaker.training_steps import MODULE as TRAINING_MODULE
from .sagemaker.training_steps import training_module

__all__ = ["ConvertError", "ConvertResult", "check_code", "convert", "format_code"]


class ConvertError(Exception):
    """The notebook cannot be converted (not Python, unreadable, bad name)."""


@dataclass
class ConvertResult:
    out_dir: Path
    package: str
    manifest: Manifest
    files: dict[str, str] = field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        return self.manifest.findings


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
    src = analyse(notebook, out_dir, name)
    if write:
        check_output_dir(src.out, src.nb.path, force)  # refuse before the work, not after
    params = parameters(src)
    lifted = lift(src, params)
    planned = plan(src, params, lifted, model)
    sm = sagemaker_plan(src, lifted, planned)
    package = assemble(src, params, lifted, planned, sm, format_output)
    manifest = make_manifest(src, params, lifted, planned, sm, package)
    manifest.written = sorted({*package.files, *package.binary, FILENAME})  # what --force replaces
    manifest = _safety_net(manifest, package)
    package.files[FILENAME] = manifest.dumps()
    if write:
        write_tree(
            src.out,
            package.files,
            force=force,
            executable=EXECUTABLES,
            notebook_path=src.nb.path,
            binary=package.binary,
        )
    return ConvertResult(src.out, src.package, manifest, package.files)


def _safety_net(manifest: Manifest, package: Any) -> Manifest:
    """The last redaction before anything leaves convert: files, manifest, and a note if it fired."""
    package.files, changed = redact_files(package.files)
    raw = manifest.to_dict()
    clean = redact_data(raw)
    if not changed and clean == raw:
        return manifest  # nothing to hide: no rebuild (it would redact every finding again)
    where = ", ".join(changed + ([FILENAME] if clean != raw else []))
    clean["findings"].append(
        note(
            "convert",
            "secret-redacted",
            "warning",
            f"a secret reached {where} and was replaced by {MARKER}; read it from the "
            "environment (os.environ) instead",
            files=changed,
        ).to_dict()
    )
    return Manifest.from_dict(clean)


# -- the passes' data ------------------------------------------------------------------


@dataclass
class Analysed:
    """analyse: the notebook, its names and its dataflow, and the findings so far."""

    nb: Notebook
    package: str
    out: Path
    digest: str
    flow: dataflow.Flow
    findings: list[Finding]

    @property
    def notebook_name(self) -> str:
        return Path(self.nb.path).name if not self.nb.path.startswith("<") else self.nb.path


@dataclass
class Parameters:
    """parameters: the papermill parameters and the cell that holds them."""

    params: list[Parameter]
    cell: int | None

    @property
    def names(self) -> set[str]:
        return {p.name for p in self.params}


@dataclass
class Lifted:
    """lift: each cell's production source split into imports, definitions and body."""

    cells: dict[int, build.CellParts] = field(default_factory=dict)
    actions: list[magics.Action] = field(default_factory=list)
    pip: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # %%writefile targets
    helpers: set[str] = field(default_factory=set)  # nb2svc_runtime.notebook helpers it uses
    imports: set[str] = field(default_factory=set)  # modules the lifted code needs imported
    cell_map: dict[int, str] = field(default_factory=dict)  # cell → where it went

    @property
    def ordered(self) -> list[build.CellParts]:
        return [self.cells[i] for i in sorted(self.cells)]


@dataclass
class Planned:
    """plan: the steps, and what is hoisted to module level."""

    plan: Plan
    module_names: set[str]
    module_functions: set[str]
    model: FoundModel  # find_model's answer, for the SageMaker plan too


@dataclass
class Package:
    """assemble: the generated files (relative path → text) and the requirements."""

    files: dict[str, str]
    pipeline: str
    requirements: list[Any]
    environment: dict[str, Any] = field(default_factory=dict)  # image Python, local modules
    binary: dict[str, bytes] = field(default_factory=dict)  # wheels/ for the image
    line_map: list[dict[str, Any]] = field(default_factory=list)  # pipeline.py lines → cells


@dataclass
class Served:
    """SageMaker plan: the decisions, and the feature function shared by train and serve."""

    sm: SageMakerPlan
    extraction: Any  # features.Extraction | None


# -- the passes ------------------------------------------------------------------------

#: what the generated container imports to save, load and serve a model
SERVING_MODULES = ("nb2svc_runtime", "numpy", "skops", "uvicorn", "httptools", "uvloop")

#: lint codes that change the package's meaning or reproducibility (verify attributes causes)
_AFFECTS = ("NB204", "NB205", "NB301")


def analyse(notebook: Any, out_dir: str | Path | None, name: str | None) -> Analysed:
    """Load the notebook, name the package, run the dataflow and the hidden-state checks."""
    try:
        nb = load_python(notebook)
    except NotebookError as exc:
        raise ConvertError(str(exc)) from None
    package = package_name(nb, name)
    out = Path(out_dir) if out_dir is not None else Path("build") / package
    raw = (
        nb.text.encode("utf-8")
        if nb.text is not None
        else json.dumps(nb.raw, sort_keys=True).encode()
    )
    flow = dataflow.analyze(nb)
    selected = lambda c: c.startswith(("NB0", "NB1")) or c in _AFFECTS  # noqa: E731
    findings = [_without_path(d) for d in check_notebook(nb, selected, flow)]
    return Analysed(nb, package, out, hashlib.sha256(raw).hexdigest(), flow, findings)


def _without_path(d: Finding) -> Finding:
    from dataclasses import replace

    return replace(d, path="")


def parameters(src: Analysed) -> Parameters:
    """The `parameters`-tagged cell's literal assignments (papermill's convention)."""
    cell = next((c for c in src.nb.code_cells if "parameters" in c.tags), None)
    if cell is None:
        return Parameters([], None)
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return _params_kept(src, cell, "the parameters cell (cell {cell}) cannot be parsed")
    params: list[Parameter] = []
    for stmt in tree.body:
        target = _assigned_name(stmt)
        if target is None:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue
            return _params_kept(
                src, cell, "the parameters cell (cell {cell}) holds more than assignments"
            )
        try:
            value = ast.literal_eval(stmt.value)  # type: ignore[attr-defined, arg-type]
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return _params_kept(src, cell, "parameter `{parameter}` is not a literal", target)
        if is_secret_name(target) or find_secrets(f"{target} = {value!r}"):
            why = (
                "parameter `{parameter}` holds a secret: it is read from the environment, "
                "never an option default or a hyperparameter"
            )
            return _params_kept(src, cell, why, target)
        params.append(Parameter(target, repr(value), value))
    return Parameters(params, cell.index)


def _assigned_name(stmt: ast.stmt) -> str | None:
    if (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
    ):
        return stmt.targets[0].id
    if (
        isinstance(stmt, ast.AnnAssign)
        and isinstance(stmt.target, ast.Name)
        and stmt.value is not None
    ):
        return stmt.target.id
    return None


def _params_kept(src: Analysed, cell: Any, why: str, parameter: str | None = None) -> Parameters:
    message = (
        why.format(cell=cell.index, parameter=parameter) + "; the parameters cell is kept as a step"
    )
    args = {"parameter": parameter} if parameter else {}
    src.findings.append(note("convert", "parameters-kept", "warning", message, cell, **args))
    return Parameters([], None)


def lift(src: Analysed, params: Parameters) -> Lifted:
    """Each cell's production source (IPython syntax by kind), split for hoisting."""
    flow, out = src.flow, Lifted()
    known = {n for f in flow.cells for n in flow.defs_of(f)} | params.names
    for f in flow.cells:
        index = f.cell.index
        code = magics.production_source(index, f.translation, known)
        out.actions += code.actions
        out.pip += code.pip
        out.helpers |= code.helpers
        out.imports |= code.imports
        for target, text in code.files.items():  # %%writefile -a adds to earlier cells' text
            out.files[target] = out.files.get(target, "") * (target in code.appends) + text
        if code.source is None:
            out.cell_map[index] = "file" if code.files else "removed"
            continue
        source, env = secrets_from_env(code.source)
        if env:
            out.imports.add("os")
            message = f"a secret in cell {index} is read from the environment: " + ", ".join(env)
            src.findings.append(
                note("convert", "secret-from-env", "warning", message, f.cell, variables=env)
            )
        parts = out.cells[index] = build.split_cell(index, f.cell.label(), source)
        if parts.main_checks:
            out.actions.append(
                magics.Action(
                    index,
                    0,
                    '__name__ == "__main__"',
                    "unwrapped",
                    "true in a notebook: made `True` in the package",
                )
            )
        if parts.awaits:
            out.helpers.add("run_await")
            out.actions.append(
                magics.Action(index, 0, "await", "unwrapped", "top-level await → run_await()")
            )
        if parts.error:
            message = f"cell {index} cannot be parsed ({parts.error}); it is kept as a comment"
            src.findings.append(
                note("convert", "cell-unparsable", "error", message, f.cell, error=parts.error)
            )
    _display_helper(flow, out)
    _show_displayed(src, out)
    _figures_helper(flow, out)
    return out


def _show_displayed(src: Analysed, out: Lifted) -> None:
    """Each cell's displayed last expression goes to `show_result()` (lift/display.py), unless
    the notebook itself defines that name (then they stay plain expressions, with a note)."""
    defined = {n for f in src.flow.cells for n in f.defs}
    if display.HOOK in defined:
        message = (
            f"the notebook defines `{display.HOOK}`, so displayed values (a cell's last "
            "expression) are computed but not shown in the package"
        )
        src.findings.append(note("convert", "display-hook-taken", "info", message))
        return
    if sum(display.show_displayed(c, out.actions, defined) for c in out.ordered):
        out.helpers.add(display.HOOK)


#: modules whose plots are matplotlib figures, which the inline backend shows and closes
_PLOTTING = frozenset({"matplotlib", "pylab", "seaborn", "plotnine"})


def _figures_helper(flow: dataflow.Flow, out: Lifted) -> None:
    """A notebook that plots gets the inline backend's lifecycle: each cell's figures are
    closed at its end (and saved under `--figures DIR`)."""
    imports = {q.split(".")[0] for q in flow.imports.values()}
    magic = any(
        o.kind == "line_magic" and o.name in ("matplotlib", "pylab")
        for f in flow.cells
        for o in f.translation.occurrences
    )
    if imports & _PLOTTING or magic:
        out.helpers.add("end_cell")
        out.actions.append(
            magics.Action(
                0,
                0,
                "matplotlib figures",
                "unwrapped",
                "each cell's figures are closed at its end, as the inline backend does "
                "(`--figures DIR` saves them)",
            )
        )


def _display_helper(flow: dataflow.Flow, out: Lifted) -> None:
    """IPython's display() becomes a logging no-op when no cell defines `display`."""
    defined_anywhere = {n for f in flow.cells for n in f.defs}
    reads_display = any(
        u.name == "display" for f in flow.cells for u in flow.expanded[f.cell.index]
    ) or any("display" in fn.free for fns in flow.functions.values() for fn in fns)
    if reads_display and "display" not in defined_anywhere:
        out.helpers.add("display")
        out.actions.append(
            magics.Action(
                0, 0, "display()", "removed", "IPython's display() → a logging no-op (runtime)"
            )
        )


def plan(src: Analysed, params: Parameters, lifted: Lifted, model: str | None = None) -> Planned:
    """Which definitions are hoisted to module level, and the step functions."""
    flow = src.flow
    assigned = definition_counts(flow, functions=False)
    kept_imports = place_imports(lifted.ordered, flow)
    module_names, module_functions = build.choose_hoisting(lifted.ordered, assigned)
    module_names |= lifted.imports | lifted.helpers
    # a followed `from local import *` stays at module level: its names, unless a cell rebinds
    module_names |= {n for f in flow.cells for n in f.star_names if assigned.get(n) == 1}
    skip = {params.cell} if params.cell is not None else set()
    constants = hoist_constants(lifted.ordered, flow, module_names, skip)
    module_names |= set(constants)
    # comment-only cells stay too (notes, and IPython syntax kept as a comment)
    body_cells = {
        i: bool(c.body or c.header or c.footer) or c.error is not None
        for i, c in lifted.cells.items()
    }
    found = find_model(flow, model)
    training = training_cells_for(flow, found)  # costly work outside it gets its own steps
    steps = make_plan(
        flow,
        body_cells,
        module_names,
        module_functions,
        params.params,
        params.cell,
        import_globals=kept_imports,
        training=training,
        constants=constants,
        cuts=pieces.cut_points(lifted.ordered, flow, _uncut(flow, found[1], training[0])),
    )
    return Planned(steps, module_names, module_functions, found)


def _uncut(flow: dataflow.Flow, model_cell: int | None, keep: set[int]) -> set[int]:
    """Cells never cut between statements: those the model needs, and every cell from the
    model's on (the training slice scores the model with whole steps after it)."""
    if model_cell is None:
        return set(keep)
    return set(keep) | {f.cell.index for f in flow.cells if f.cell.index >= model_cell}


def sagemaker_plan(src: Analysed, lifted: Lifted, planned: Planned) -> Served:
    """The model, its training steps, the shared feature function and the data channels."""
    sm = decide(src.flow, planned.plan, planned.model, lifted.cells)
    extraction = None
    if sm.model and not sm.model_is_pipeline and sm.fit_x:
        steps_cells = [i for s in sm.train_steps for i in s.cells]
        extraction = features.extract(steps_cells, lifted.cells, sm.fit_x, planned.module_names)
    if extraction is not None:  # one feature path: replace the "cannot be one function" note
        sm.feature_function, sm.target = features.FUNCTION, extraction.target
        sm.notes = [n for n in sm.notes if n.name != "features-not-pipeline"]
        cells = ", ".join(map(str, extraction.cells))
        message = (
            f"the row-wise feature preparation of `{extraction.frame}` (cells {cells}) is "
            f"`{features.FUNCTION}()`, used by training and by serving"
        )
        sm.notes.append(
            note(
                "sagemaker",
                "feature-function",
                "info",
                message,
                frame=extraction.frame,
                cells=list(extraction.cells),
            )
        )
    src.findings.extend(sm.notes)
    _rewrite_channels(sm, lifted)
    refresh_parts(src.flow, planned.plan, sm, lifted.cells)  # of the final step bodies
    return Served(sm, extraction)


def _rewrite_channels(sm: SageMakerPlan, lifted: Lifted) -> None:
    """Data-file reads become SageMaker channels (the local path is the default)."""
    channel_map = sm.channel_keys()
    if not channel_map:
        return
    rewritten = 0
    for c in lifted.ordered:
        for attr in ("body", "definitions"):
            nodes = []
            for stmt in getattr(c, attr):
                new, n = channels.rewrite(stmt, channel_map)
                nodes.append(new)
                rewritten += n
            setattr(c, attr, nodes)
    if rewritten:
        lifted.helpers.add("read_channel")


def assemble(
    src: Analysed,
    params: Parameters,
    lifted: Lifted,
    planned: Planned,
    served: Served,
    format_output: bool,
) -> Package:
    """Render and check every generated file: the package, its requirements, the container."""
    _plan_findings(src, params, lifted, planned)
    context = _context(src)
    tree = _pipeline(lifted, planned, served, context)
    pipeline, ranges = tree.code, tree.line_map()
    _generated_code_findings(src, lifted, pipeline, ranges)
    notebook_dir = (
        str(Path(src.nb.path).resolve().parent) if not src.nb.path.startswith("<") else ""
    )
    local = local_dependencies(notebook_dir, _top_modules(src), lifted.files, src.findings)
    reqs = _requirements(src, lifted, served, local.names)
    files = _package_files(src, params, lifted, pipeline, reqs, context, format_output)
    if context["model_code"]:
        path = f"{src.package}/model_code.py"
        files[path] = (
            format_code(context["model_code"], path) if format_output else context["model_code"]
        )
    copied = sorted({t for t in lifted.files if not Path(t).is_absolute()} | set(local.files))
    binary = _runtime_wheel(src, lifted, served, context)
    training = training_module(served.sm, lifted.cells)  # steps train runs part of
    if training is not None and format_output:
        training = format_code(training, f"{src.package}/{TRAINING_MODULE}.py")
    files.update(
        container_files(
            served.sm,
            planned.plan,
            {**context, "pipeline_source": pipeline, "training_steps": training},
            copied,
            _relative_to_output(notebook_dir, src.out),
        )
    )
    files.update(local.files)
    for target, text in lifted.files.items():
        rel = Path(target)
        if rel.is_absolute() or ".." in rel.parts:
            message = f"%%writefile {target}: path outside the package; not written"
            src.findings.append(
                note("convert", "writefile-outside", "warning", message, target=target)
            )
            continue
        if _clashes(rel, files):
            message = (
                f"%%writefile {target}: the name of a folder or file nb2svc writes; not written"
            )
            src.findings.append(
                note("convert", "writefile-outside", "warning", message, target=target)
            )
            continue
        files[rel.as_posix()] = text
    environment = image_environment(context, local)
    return Package(files, pipeline, reqs, environment, binary, ranges)


def _relative_to_output(notebook_dir: str, out: Path) -> str:
    """The notebook's folder as seen from the output folder (POSIX), so nothing generated holds
    the converter's absolute paths; "" for an in-memory notebook."""
    if not notebook_dir:
        return ""
    return Path(os.path.relpath(notebook_dir, out.resolve())).as_posix()


def _uses_runtime(lifted: Lifted, served: Served) -> bool:
    """The package imports nb2svc-runtime: to serve its model, or for its notebook helpers."""
    return bool(served.sm.model or lifted.helpers)


def _runtime_wheel(
    src: Analysed, lifted: Lifted, served: Served, context: dict[str, Any]
) -> dict[str, bytes]:
    """The runtime's wheel beside the Dockerfile, so the image installs the exact pinned runtime
    without an index that serves it."""
    needed = _uses_runtime(lifted, served)
    wheel = runtime_wheel() if needed else None
    context["runtime_wheel"] = wheel[0] if wheel else None
    if needed and wheel is None:
        message = (
            "nb2svc-runtime is not installed as a wheel here (missing or editable), so the image "
            "installs it from the package index: `pip install ./runtime` beside nb2svc to bundle it"
        )
        src.findings.append(note("convert", "runtime-wheel", "warning", message))
    return {f"wheels/{wheel[0]}": wheel[1]} if wheel else {}


def _clashes(rel: Path, files: dict[str, str]) -> bool:
    """`rel` is the package folder itself, one of the generated files, or a folder of them."""
    posix = rel.as_posix()
    return (
        not rel.parts
        or posix in files
        or posix == "nb2svc.json"
        or any(f.startswith(posix + "/") for f in files)
        or any(p.as_posix() in files for p in rel.parents)
    )


def _plan_findings(src: Analysed, params: Parameters, lifted: Lifted, planned: Planned) -> None:
    if not _star_import_finding(src, planned.plan.undefined):
        for name_, where in planned.plan.undefined.items():
            message = (
                f"`{name_}` is read in cell {where[0]} but no earlier cell defines it; "
                "the package fails there, as Restart & Run All would"
            )
            cell = getattr(src.flow.by_index.get(where[0]), "cell", where[0])
            src.findings.append(
                note("convert", "undefined-in-package", "error", message, cell, name=name_)
            )
    for fname in sorted(planned.module_functions):
        for fn in src.flow.functions.get(fname, []):
            for b in sorted(fn.free & params.names):
                message = f"`{fname}` reads the parameter `{b}` as a global; pass it as an argument"
                src.findings.append(
                    note(
                        "convert",
                        "parameter-global",
                        "warning",
                        message,
                        function=fname,
                        parameter=b,
                    )
                )


def _star_import_finding(src: Analysed, undefined: dict[str, list[int]]) -> bool:
    """With a star import nb2svc could not follow, the names no cell defines may come from it:
    one warning that says so, not an error per name. False when there is no such import."""
    star = next((f for f in src.flow.cells if f.star_imports), None)
    if star is None:
        return False
    module = star.star_imports[0][0]
    names = sorted(undefined)
    shown = ", ".join(f"`{n}`" for n in names[:12]) + (", …" if len(names) > 12 else "")
    message = (
        f"`from {module} import *` in cell {star.cell.index} could not be followed "
        f"({star.star_reasons.get(module, 'not a local module')})"
        + (f"; names no cell defines are taken to come from it: {shown}" if names else "")
    )
    src.findings.append(
        note(
            "convert",
            "star-import-not-followed",
            "warning" if names else "info",
            message,
            star.cell,
            module=module,
            names=names,
        )
    )
    return True


def _context(src: Analysed) -> dict[str, Any]:
    title = next(
        (h for c in src.nb.cells if c.cell_type == "markdown" for h in [_title(c.source)] if h),
        src.package,
    )
    python, python_from = notebook_python(src.nb.metadata)
    return {
        "title": title,
        "version": __version__,
        "notebook": src.notebook_name,
        "digest": src.digest,
        "package": src.package,
        "python_version": python,
        "python_from": python_from,
    }


_HEADER = """{title}

Generated by nb2svc {version} from {notebook} (sha256 {short}). Each step
function is a run of notebook cells (the `# cell N` comments say which); `run()` calls them in
notebook order. nb2svc.json maps every line back to its cell. Re-run `nb2svc convert` rather
than editing by hand.
"""


def _pipeline(
    lifted: Lifted, planned: Planned, served: Served, context: dict[str, Any]
) -> Pipeline:
    """pipeline.py as one libcst Module: hoisted imports, module-level definitions, one
    function per step, run(); its line map comes from the same tree (lift/module.py)."""
    imports = _imports(lifted)
    definitions = _definitions(lifted, served)
    split = split_definitions(
        [code_of(i).strip() for i in imports],
        [("" if d.continues else f"# {d.label}\n") + code_of(d.node).strip() for d in definitions],
    )
    context["model_code"] = split.module  # <pkg>/model_code.py: what serving imports
    feature = served.sm.feature_function
    context["feature_module"] = "model_code" if feature in split.moved else "pipeline"
    if lifted.helpers:
        imports.append(build.helpers_import(sorted(lifted.helpers)))
    if split.moved:
        imports.append(model_code_import(split.moved))
    header = _HEADER.format(short=context["digest"][:12], **context)
    return pipeline_module(
        header,
        imports,
        _kept(definitions, split.kept_at),
        _steps(lifted, planned),
        build.run_function(planned.plan),
    )


def _imports(lifted: Lifted) -> list[cst.SimpleStatementLine]:
    """Imports hoisted, de-duplicated, __future__ first, then in notebook order."""
    seen: dict[str, tuple[int, cst.SimpleStatementLine]] = {}
    for c in lifted.ordered:
        for stmt in c.imports:
            seen.setdefault(import_key(stmt), (c.index, stmt))
    order = sorted(seen, key=lambda t: (not t.startswith("from __future__"), seen[t][0]))
    imports = [seen[t][1] for t in order]
    extra = [m for m in sorted(lifted.imports) if f"import {m}" not in seen]
    return imports + [build.import_statement(m) for m in extra]


def _definitions(lifted: Lifted, served: Served) -> list[Definition]:
    out: list[Definition] = []
    if served.extraction is not None:
        label = ", ".join(f"cell {i}" for i in served.extraction.cells)
        out.append(Definition(served.extraction.function, f"{label}: feature preparation"))
    for c in lifted.ordered:
        after_constant = False
        for d in c.definitions:
            constant = is_constant(d)  # consecutive constants of a cell: one block
            out.append(Definition(d, c.label, c.index, continues=constant and after_constant))
            after_constant = constant
            lifted.cell_map.setdefault(c.index, "module")
        if c.imports and not c.body and not c.definitions:
            lifted.cell_map.setdefault(c.index, "imports")
    return out


def _kept(definitions: list[Definition], kept_at: list[int]) -> list[Definition]:
    """The definitions pipeline.py keeps; a constant whose block-mate moved to model_code.py
    opens a block (gap and `# cell N`) of its own."""
    kept = set(kept_at)
    return [
        dataclasses.replace(definitions[i], continues=definitions[i].continues and i - 1 in kept)
        for i in kept_at
    ]


def _steps(lifted: Lifted, planned: Planned) -> list[tuple[cst.FunctionDef, list[Span]]]:
    out: list[tuple[cst.FunctionDef, list[Span]]] = []
    for step in planned.plan.steps:
        labels = [pieces.label(lifted.cells[i].label, step.spans.get(i)) for i in step.cells]
        doc = f"{step.heading or 'Notebook'} — {', '.join(labels)}."
        figures = "end_cell" in lifted.helpers
        spans: list[Span] = []
        out.append((build.step_function(step, lifted.cells, doc, figures, spans), spans))
        for i in step.cells:
            lifted.cell_map[i] = step.name
    return out


def _generated_code_findings(
    src: Analysed, lifted: Lifted, pipeline: str, ranges: list[dict[str, Any]]
) -> None:
    """pyflakes over pipeline.py; each finding names its cell through the line map. What the
    notebook's own code has already (an f-string without placeholders, `is` with a literal)
    is the author's, kept as it was: a warning on the cell. Only the rest is an error."""
    own = check_notebook_code(
        (f.cell.index, f.translation.python) for f in src.flow.cells if f.parsed
    )
    for r in check_code(pipeline, f"{src.package}/pipeline.py"):
        mine = same_finding(r, own) if r["code"] != "ruff" else None
        if mine is not None:
            src.findings.append(_notebook_code_finding(src, mine))
            continue
        cell = next((x["cell"] for x in ranges if x["start"] <= r["line"] <= x["end"]), None)
        src.findings.append(
            Finding(
                r["code"],
                f"pipeline.py line {r['line']}: {r['message']}",
                cell=CellRef.of(getattr(src.flow.by_index.get(cell), "cell", None)),
                severity="error",
                kind="generated-code",
                args={"message": r["message"]},
                file="pipeline.py",
                file_line=r["line"] or None,
            )
        )


def _notebook_code_finding(src: Analysed, r: dict[str, Any]) -> Finding:
    cell = getattr(src.flow.by_index.get(r["cell"]), "cell", None)
    return Finding(
        r["code"],
        f"cell {r['cell']} line {r['cell_line']}: {r['message']} (in the notebook's own code; "
        "the package keeps it as written)",
        cell=CellRef.of(cell),
        line=r["cell_line"],
        severity="warning",
        kind="notebook-code",
        args={"message": r["message"]},
    )


def _requirements(src: Analysed, lifted: Lifted, served: Served, found: set[str]) -> list[Any]:
    from .requirements import infer

    top = _top_modules(src)
    local = {Path(t).stem for t in lifted.files if t.endswith(".py")} | found
    if served.sm.model:  # what the container needs to save, load and serve the model
        top |= set(SERVING_MODULES)
    if lifted.helpers:  # the notebook helpers the package's code imports (build.RUNTIME_HELPERS)
        top.add("nb2svc_runtime")
    reqs = infer(sorted(top), lifted.pip, local_modules=local, needed=top & {"IPython"})
    src.findings.extend(requirement_findings(reqs.warnings))
    return reqs


def _top_modules(src: Analysed) -> set[str]:
    return {
        q.split(".")[0] for f in src.flow.cells for q in f.imports.values() if not q.startswith(".")
    }


def _package_files(
    src: Analysed,
    params: Parameters,
    lifted: Lifted,
    pipeline: str,
    reqs: list[Any],
    context: dict[str, Any],
    format_output: bool,
) -> dict[str, str]:
    package, req_lines = src.package, [r.line() for r in reqs]
    req_file = reqs.lines() if hasattr(reqs, "lines") else req_lines
    uses_pandas = "pandas" in _top_modules(src)
    main_py = render(
        "package/__main__.py.j2",
        options=[_option(p) for p in params.params],
        show_flag=_show_flag(params) if display.HOOK in lifted.helpers else None,
        uses_pandas=uses_pandas,
        figures="end_cell" in lifted.helpers,
        **context,
    )
    files = {
        f"{package}/__init__.py": render("package/__init__.py.j2", **context),
        f"{package}/__main__.py": format_code(main_py, f"{package}/__main__.py")
        if format_output
        else main_py,
        f"{package}/pipeline.py": pipeline,
        "requirements.txt": render("package/requirements.txt.j2", lines=req_file, **context),
        "pyproject.toml": render(
            "package/pyproject.toml.j2",
            distribution=package.replace("_", "-"),
            requirements=req_lines,
            python_min=f"{sys.version_info.major}.{sys.version_info.minor}",
            **context,
        ),
    }
    return files


def make_manifest(
    src: Analysed,
    params: Parameters,
    lifted: Lifted,
    planned: Planned,
    served: Served,
    package: Package,
) -> Manifest:
    """nb2svc.json: what was generated from what, and every finding."""
    nb, plan_ = src.nb, planned.plan
    if params.cell is not None:
        lifted.cell_map[params.cell] = "parameters"
    for c in lifted.ordered:
        lifted.cell_map.setdefault(
            c.index, "module" if c.definitions else "imports" if c.imports else "empty"
        )
    return Manifest(
        nb2svc=__version__,
        package=src.package,
        notebook=src.notebook_name,
        notebook_sha256=src.digest,
        code_sha256=code_sha256(nb),
        notebook_path=(
            Path(os.path.relpath(Path(nb.path).resolve(), src.out.resolve())).as_posix()
            if not nb.path.startswith("<")
            else None
        ),
        entrypoint=f"python -m {src.package}",
        cells=[_cell_entry(c, lifted) for c in nb.code_cells],
        steps=[_step_entry(s) for s in plan_.steps],
        parameters=[
            {"name": p.name, "default": p.value, "option": "--" + p.name.replace("_", "-")}
            for p in params.params
        ],
        module_level=sorted(planned.module_functions),
        shared_globals=sorted(plan_.shared_globals),
        ipython=[a.to_dict() for a in lifted.actions],
        data_acquisition=[a.to_dict() for a in lifted.actions if a.kind == "data"],
        files=sorted(lifted.files),
        requirements=[_requirement(r) for r in package.requirements],
        line_map={"pipeline.py": package.line_map},
        sagemaker=served.sm.to_dict(),
        environment=package.environment,
        runtime=runtime_entry() if _uses_runtime(lifted, served) else None,
        findings=list(src.findings),
    )


def _cell_entry(c: Any, lifted: Lifted) -> dict[str, Any]:
    target = lifted.cell_map.get(c.index, "empty")
    return {"index": c.index, "id": c.id, "execution_count": c.execution_count, "target": target}


def _step_entry(s: Any) -> dict[str, Any]:
    return {
        "function": s.name,
        "cells": s.cells,
        "heading": s.heading,
        "parameters": s.params,
        "returns": s.returns,
        "globals": s.global_names,
    }


def _requirement(r: Any) -> dict[str, Any]:
    return {
        "name": r.name,
        "specifier": r.specifier,
        "modules": list(r.modules),
        "source": r.source,
        "installed": r.installed,
        "note": r.note,
    }


# -- small helpers ---------------------------------------------------------------------


def package_name(nb: Notebook, name: str | None) -> str:
    if name:
        if not name.isidentifier() or name in sys.stdlib_module_names or keyword.iskeyword(name):
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
    from .staleness import _default_package  # one naming rule (stdlib, tests, keywords)

    if shadows or candidate != _default_package(candidate):
        candidate += "_pipeline"
    return candidate


def _show_flag(params: Parameters) -> str:
    """`--show` prints displayed values, unless a papermill parameter already owns the flag."""
    taken = {_option(p)["flag"] for p in params.params}
    return next(f for f in ("show", "show-results", "nb2svc-show") if f not in taken)


def _option(p: Parameter) -> dict[str, str]:
    v = p.value
    typ = {bool: "_bool", int: "int", float: "float", str: "str"}.get(type(v), "json.loads")
    return {
        "flag": p.name.replace("_", "-"),
        "name": p.name,
        "type": typ,
        "help": repr(f"default: {p.default_source}"),
    }


def _title(source: str) -> str | None:
    m = re.search(r"^\s{0,3}#\s+(.+?)\s*$", source, re.M)
    return m.group(1).strip() if m else None
