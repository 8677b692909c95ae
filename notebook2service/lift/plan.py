"""Decide the package's shape from the dataflow: which cells become which step function,
what each step takes and returns, what stays at module level. No code is generated here.

Convert follows top-down order (what Restart & Run All does). A step is a run of code
cells under one markdown heading; its parameters are the names it reads that earlier steps
(or the papermill parameters) defined, its return values the names it defines or mutates
that later steps read. Names that functions kept at module level read as globals stay module
globals (the steps that assign them declare ``global``), so helpers keep working.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass, field

from ..dataflow import BUILTINS, CellFlow, Flow, is_ipython_global
from ..redact import redact
from . import names, pieces, split
from .paths import assigned_names, definitely_bound

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)
#: headings that say nothing about what the step does: the name comes from its code
_GENERIC = frozenset(
    "imports import_libraries import_packages import_modules libraries setup set_up "
    "preamble overview introduction intro code example examples solution notebook".split()
)


@dataclass
class Step:
    name: str
    cells: list[int]  # cell indexes (1-based over all cells)
    heading: str | None
    params: list[str] = field(default_factory=list)
    returns: list[str] = field(default_factory=list)
    global_names: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # external reads, in order
    writes: list[str] = field(default_factory=list)  # defined or mutated names, in order
    mutated: list[str] = field(default_factory=list)
    #: module globals the step reads that another step binds (imports kept in steps, names
    #: bound on one path): the training slice needs the steps that bind them
    global_reads: list[str] = field(default_factory=list)
    #: cells of which the step holds only some top-level statements [start, end) (pieces.py)
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Parameter:
    name: str
    default_source: str  # Python source of the default
    value: object  # the literal value (for CLI option types)


@dataclass
class Plan:
    steps: list[Step]
    parameters: list[Parameter]
    module_names: set[str]  # names bound at module level (hoisted imports, defs, classes)
    shared_globals: set[str]
    undefined: dict[str, list[int]]  # names read but defined by no earlier step -> cells
    constants: list[str] = field(default_factory=list)  # moved to module level (constants.py)


def heading_of(source: str) -> str | None:
    m = _HEADING.search(source)
    return redact(m.group(1).strip()) if m else None  # a name made from it never holds a secret


def _unique(name: str, reserved: set[str], used: set[str]) -> str:
    """`reserved`: the notebook's own names; `used`: step names given so far."""
    if name in reserved or keyword.iskeyword(name) or name in BUILTINS:
        name = f"{name}_step"  # `clients` the variable, `clients_step` the function
    base = name
    n = 2
    while name in used or name in reserved:
        name = f"{base}_{n}"  # a second `fit_knn` is `fit_knn_2`
        n += 1
    used.add(name)
    return name


def make_plan(
    flow: Flow,
    body_cells: dict[int, bool],
    module_names: set[str],
    module_functions: set[str],
    parameters: list[Parameter],
    parameters_cell: int | None,
    import_globals: set[str] | None = None,
    training: tuple[set[int], set[int]] = (set(), set()),
    constants: list[str] | None = None,
    cuts: dict[int, list[int]] | None = None,
) -> Plan:
    """`body_cells`: cell index -> whether the cell keeps statements for a step (after hoisting);
    `import_globals`: names bound by imports kept in steps (module globals, see lift/imports);
    `training`: (the cells the model needs, cells doing costly work), kept in other steps;
    `constants`: module-level names moved out of their cells (lift/constants.py);
    `cuts`: where a cell may be cut between statements (pieces.cut_points).

    Passes: group cells by heading → the globals module-level functions share → each step's
    reads and writes → parameters and returns, walking top-down."""
    groups = [
        split.Group(h, cells) for h, cells in _group_by_heading(flow, body_cells, parameters_cell)
    ]
    param_names = {p.name for p in parameters}
    shared = _shared_globals(flow, module_names, module_functions) | (import_globals or set())
    rebindable = module_names - set(constants or ())  # a moved constant's cell no longer binds it
    rebinds = {f.cell.index: module_rebinds(f, rebindable) for f in flow.cells}  # once
    shared |= {n for names in rebinds.values() for n in names}
    shared -= param_names
    cache: dict[split.Key, tuple[Step, set[str]]] = {}

    def build(gs: list[split.Group]) -> tuple[list[Step], dict[str, list[int]], set[str]]:
        steps = [_step_copy(flow, g, (module_names, shared, rebinds), cache) for g in gs]
        everywhere = shared | _bound_on_some_paths(steps, cache) - param_names
        return steps, _link_steps(steps, param_names, everywhere), everywhere

    groups = split.apart(split.at_stages(flow, groups), *training)
    groups = split.bounded(
        flow, groups, lambda gs: [len(s.returns) for s in build(gs)[0]], cuts or {}
    )
    steps, undefined, shared = build(groups)
    # step names must not shadow anything the notebook names (run() binds variables)
    taken = (
        set(module_names)
        | {"run", "main"}
        | {n for f in flow.cells for n in (*f.defs, *f.all_reads)}
    )
    used: set[str] = set()
    for number, (step, group) in enumerate(zip(steps, groups, strict=True), start=1):
        step.name = _unique(_name(flow, step, group.part) or f"step_{number}", taken, used)
    return Plan(steps, parameters, module_names, shared, undefined, list(constants or ()))


def _name(flow: Flow, step: Step, part: bool) -> str:
    """The heading's name (a part of a cut heading: its code's name first)."""
    heading = names.from_heading(step.heading) if step.heading else ""
    if heading in _GENERIC and step.heading and ":" in step.heading:
        heading = names.from_heading(step.heading.split(":", 1)[1])  # `Example 1: Use cURL`
    if heading in _GENERIC:
        heading = ""
    if heading and not part:
        return heading
    units = [u for i in step.cells if (u := pieces.unit(flow, i, step.spans.get(i))) is not None]
    trees = [ast.Module(body=u.stmts, type_ignores=[]) for u in units if u.stmts]
    code = names.from_code(trees, step.writes)
    sources = [f.cell.source for i in step.cells if (f := flow.by_index.get(i)) is not None]
    code = code or names.from_comments(sources) or names.from_text(sources)
    return (code if not keyword.iskeyword(code) else "") or heading


def _bound_on_some_paths(
    steps: list[Step], cache: dict[split.Key, tuple[Step, set[str]]]
) -> set[str]:
    """Names a step writes but may leave unbound (see lift/paths.py): they stay module
    globals, never returned; later steps read the global, as the notebook read its own."""
    maybe: set[str] = set()
    for step in steps:
        maybe |= cache[split.Group(step.heading, step.cells, spans=step.spans).key][1]
    for step in steps:
        step.global_reads = step.global_reads + [n for n in step.reads if n in maybe]
        step.reads = [n for n in step.reads if n not in maybe]
    return maybe


def module_rebinds(f: CellFlow, module_names: set[str]) -> set[str]:
    """Module-level names (hoisted imports) a cell's own statements rebind (`uuid = uuid.uuid4()`):
    the step declares them `global`, so it rebinds the module's name as the notebook rebound
    its global (not a local that an earlier read in the step would find unbound)."""
    tree = f.translation.tree
    return assigned_names(tree.body) & module_names if tree is not None else set()


def _maybe_unbound(flow: Flow, step: Step) -> set[str]:
    """The names `step` writes that some path through its cells leaves unbound."""
    state = set(step.reads)
    for idx in step.cells:
        u = pieces.unit(flow, idx, step.spans.get(idx))
        if u is not None and u.flow.translation.tree is not None:
            state = definitely_bound(u.stmts, state, set(u.flow.translation.scoped_lines))
    return set(step.writes) - state


def definition_counts(flow: Flow, *, functions: bool = True) -> dict[str, int]:
    """How many cells bind each name (`functions=False`: not counting def/class)."""
    counts: dict[str, int] = {}
    for f in flow.cells:
        for n in f.defs:
            if functions or n not in f.functions:
                counts[n] = counts.get(n, 0) + 1
    return counts


def _group_by_heading(
    flow: Flow, body_cells: dict[int, bool], parameters_cell: int | None
) -> list[tuple[str | None, list[int]]]:
    """Code cells with a body, grouped into steps by markdown heading."""
    groups: list[tuple[str | None, list[int]]] = []
    heading: str | None = None
    heading_used = False
    for cell in flow.notebook.cells:
        if cell.cell_type == "markdown":
            h = heading_of(cell.source)
            if h:
                heading, heading_used = h, False
            continue
        if not body_cells.get(cell.index) or cell.index == parameters_cell:
            continue
        if groups and heading_used and groups[-1][0] == heading and heading is not None:
            groups[-1][1].append(cell.index)
        else:
            groups.append((heading, [cell.index]))
            heading_used = True
    return groups


def _shared_globals(flow: Flow, module_names: set[str], module_functions: set[str]) -> set[str]:
    """Names that stay module globals: what module-level functions read or assign, and what
    closures kept in steps read from outside their own cell, or when a later cell rebinds it:
    the notebook's function reads the global when it runs, which may be in another step (the
    step that defines the function does not have the name otherwise)."""
    shared: set[str] = set()
    for fname in module_functions:
        for fn in flow.functions.get(fname, []):
            shared |= fn.free | fn.assigns_globals
    defined_in = definition_counts(flow)
    cells_of: dict[str, set[int]] = {}
    for f in flow.cells:
        for n in f.defs:
            cells_of.setdefault(n, set()).add(f.cell.index)
    for fns in flow.functions.values():
        for fn in fns:
            if fn.name not in module_functions:
                shared |= {
                    n
                    for n in fn.free
                    if defined_in.get(n, 0) > 1 or cells_of.get(n, {fn.cell}) != {fn.cell}
                }
    return shared - module_names - BUILTINS


#: what a step's cells see from outside: the module-level names, the shared globals, and each
#: cell's rebinds of module-level names (module_rebinds, computed once per notebook)
Outside = tuple[set[str], set[str], dict[int, set[str]]]


def _step_copy(
    flow: Flow,
    group: split.Group,
    outside: Outside,
    cache: dict[split.Key, tuple[Step, set[str]]],
) -> Step:
    """A fresh Step for the group (its reads and writes, and the names it may leave
    unbound, computed once per run of cells)."""
    key = group.key
    if key not in cache:
        made = _step(flow, group, outside)
        cache[key] = (made, _maybe_unbound(flow, made))
    s = cache[key][0]
    return Step(
        s.name,
        list(s.cells),
        s.heading,
        reads=s.reads,
        writes=s.writes,
        mutated=s.mutated,
        global_reads=list(s.global_reads),
        spans=dict(s.spans),
    )


def _step(flow: Flow, group: split.Group, outside: Outside) -> Step:
    """One step's external reads (in order) and the names it defines or mutates."""
    reads: list[str] = []
    writes: list[str] = []
    mutated: list[str] = []
    bound: set[str] = set()
    global_reads: list[str] = []
    module_names, shared, rebinds = outside
    for idx in group.cells:
        u = pieces.unit(flow, idx, group.spans.get(idx))
        if u is None:
            continue
        f = u.flow
        for use in u.uses:
            n = use.name
            if n in shared and n not in bound and n not in global_reads:
                global_reads.append(n)
            if n in bound or n in module_names or n in shared:
                continue
            if n in BUILTINS or is_ipython_global(n):
                continue
            if n not in reads:
                reads.append(n)
        cell_rebinds = rebinds.get(idx, set())
        if idx in group.spans:  # part of the cell: what its own statements rebind
            cell_rebinds = cell_rebinds & assigned_names(u.stmts)
        defs = (u.defs - module_names) | cell_rebinds
        for n in list(f.defs) + sorted(defs - set(f.defs)):
            if n in defs and n not in writes:
                writes.append(n)
        for m in f.mutations:
            if m.name not in module_names and m.name not in writes and m.name not in BUILTINS:
                writes.append(m.name)
                mutated.append(m.name)
        bound |= defs
    step = Step("", group.cells, group.heading, reads=reads, writes=writes, mutated=mutated)
    step.global_reads = global_reads
    step.spans = dict(group.spans)
    return step


def _link_steps(steps: list[Step], param_names: set[str], shared: set[str]) -> dict[str, list[int]]:
    """Parameters and returns, walking top-down; returns the names no earlier step defines."""
    available: dict[str, int] = {p: -1 for p in param_names}  # name -> step that last wrote it
    undefined: dict[str, list[int]] = {}
    for i, step in enumerate(steps):
        for n in step.reads:
            if n in available:
                step.params.append(n)
                if available[n] >= 0 and n not in steps[available[n]].returns:
                    steps[available[n]].returns.append(n)
            else:
                undefined.setdefault(n, []).extend(step.cells)
        for n in step.writes:
            if n in shared:
                if n not in step.global_names:
                    step.global_names.append(n)
                continue
            available[n] = i
    if steps:  # the last step returns what it wrote (run() hands it back)
        last = steps[-1]
        for n in last.writes:
            if n not in last.returns and n not in shared and not n.startswith("_"):
                last.returns.append(n)
    for step in steps:  # keep returns in the order the step wrote them
        order = {n: k for k, n in enumerate(step.writes)}
        step.returns.sort(key=lambda n: order.get(n, 10**6))
    return undefined
