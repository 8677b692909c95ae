"""Where a run of cells under one heading becomes several steps.

Two passes over the groups `plan` makes from the headings:
- `at_stages`: a long group (or any group where a model is fitted and then evaluated) is cut
  where the work changes stage: loading data, preparing features, fitting, evaluating.
  The stage of a cell comes from its calls (`read_csv`, `train_test_split`, `.fit`,
  `accuracy_score`, `.predict`, `plt.plot`, ...); a cell with none keeps the stage before it.
- `apart`: costly work outside the training slice (a search, another model's fit) gets
  steps of its own, so the training entrypoint does not run it.
- `bounded`: a step that still returns more than `MAX_RETURNS` names is cut at the cell
  boundary that makes the largest part's returns smallest (stage boundaries first), as long
  as that helps; when no cell boundary helps enough, between two top-level statements of a
  cell (lift/pieces.py says which cells may be cut, and where).
A step holds whole cells, or part of a cell at either end (`Group.spans`); every part is
marked with its cell, so the line map stays exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..dataflow import Flow
from .names import phase_of
from .pieces import END, Span

MAX_RETURNS = 5
#: a group with at least this many cells is cut at every stage change
LONG = 4
_STAGE = {"load": 0, "split": 1, "prepare": 1, "fit": 2, "evaluate": 3, "plot": 3}


Key = tuple[tuple[int, Span | None], ...]


@dataclass
class Group:
    heading: str | None
    cells: list[int]
    part: bool = False  # one of several parts of a heading's cells
    #: cells of which the group holds only the top-level statements [start, end)
    spans: dict[int, Span] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return tuple((i, self.spans.get(i)) for i in self.cells)


def stages(flow: Flow, cells: list[int]) -> list[int | None]:
    """Each cell's stage (None: no call says; it continues the stage before it)."""
    out: list[int | None] = []
    for idx in cells:
        f = flow.by_index.get(idx)
        phase = phase_of(f.translation.tree if f is not None else None)
        out.append(_STAGE.get(phase))
    return out


def _cuts(kinds: list[int | None], long: bool) -> list[int]:
    """Positions (cell offsets) where a new part starts."""
    cuts: list[int] = []
    current: int | None = None
    for i, k in enumerate(kinds):
        if k is None:
            continue
        if current is not None and k != current and i > 0:
            # short groups are cut only after fitting, so evaluation is its own step
            if long or (current == _STAGE["fit"] and k > current):
                cuts.append(i)
        current = k
    return cuts


def at_stages(flow: Flow, groups: list[Group]) -> list[Group]:
    out: list[Group] = []
    for g in groups:
        cuts = _cuts(stages(flow, g.cells), len(g.cells) >= LONG)
        if not cuts:
            out.append(g)
            continue
        bounds = [0, *cuts, len(g.cells)]
        for a, b in zip(bounds, bounds[1:], strict=False):
            out.append(Group(g.heading, g.cells[a:b], part=True))
    return out


def apart(groups: list[Group], keep: set[int], costly: set[int]) -> list[Group]:
    """Cut a group that holds cells of the training slice (`keep`) around each run of cells
    outside it that does costly work, so training can run the one without the other."""
    out: list[Group] = []
    for g in groups:
        if not keep & set(g.cells) or not costly & (set(g.cells) - keep):
            out.append(g)
            continue
        runs: list[list[int]] = []
        for idx in g.cells:
            if runs and (idx in keep) == (runs[-1][0] in keep):
                runs[-1].append(idx)
            else:
                runs.append([idx])
        parts: list[list[int]] = []
        alone: list[bool] = []  # a costly run outside the slice
        for run in runs:  # cheap runs outside the slice stay with their neighbours
            separate = run[0] not in keep and bool(costly & set(run))
            if parts and not separate and not alone[-1]:
                parts[-1] += run
            else:
                parts.append(list(run))
                alone.append(separate)
        out += [Group(g.heading, p, part=len(parts) > 1 or g.part) for p in parts]
    return out


def bounded(
    flow: Flow,
    groups: list[Group],
    returns_of: Callable[[list[Group]], list[int]],
    cuts: dict[int, list[int]] | None = None,
) -> list[Group]:
    """Cut steps that return more than MAX_RETURNS names while a cut lowers the largest
    part's returns. `returns_of(groups)`: how many names each group's step returns;
    `cuts`: cell → statement positions a part of that cell may start at."""
    done: set[Key] = set()  # steps no cut improves
    for _ in range(200):  # each round cuts one step; bounded for huge notebooks
        counts = returns_of(groups)
        over = [i for i in range(len(groups)) if counts[i] > MAX_RETURNS]
        over = [i for i in over if groups[i].key not in done]
        if not over:
            return groups
        worst = max(over, key=lambda i: counts[i])
        best = _best_cut(flow, groups, worst, counts[worst], returns_of)
        if best is None or _largest(best, worst, returns_of) > MAX_RETURNS:
            inner = _best_inner_cut(groups, worst, counts[worst], returns_of, cuts or {})
            if inner is not None and (
                best is None
                or _largest(inner, worst, returns_of) < _largest(best, worst, returns_of)
            ):
                best = inner
        if best is None:
            done.add(groups[worst].key)
            continue
        groups = best
    return groups


def _largest(groups: list[Group], i: int, returns_of: Callable[[list[Group]], list[int]]) -> int:
    counts = returns_of(groups)
    return max(counts[i], counts[i + 1])


def _best_inner_cut(
    groups: list[Group],
    i: int,
    now: int,
    returns_of: Callable[[list[Group]], list[int]],
    cuts: dict[int, list[int]],
) -> list[Group] | None:
    """The cut between two statements of one of the group's cells that makes the largest
    part's returns smallest (then the most even one), if it lowers them."""
    g = groups[i]
    best: tuple[tuple[int, int], list[Group]] | None = None
    for j, cell in enumerate(g.cells):
        start, end = g.spans.get(cell, (0, END))
        # each cut position starts a body statement and so does `start` (or the cell's
        # first one comes before every cut): both parts keep one
        inside = [k for k in cuts.get(cell, []) if start < k < end]
        for k in inside:
            left = Group(g.heading, g.cells[: j + 1], True, _spans(g, g.cells[: j + 1]))
            right = Group(g.heading, g.cells[j:], True, _spans(g, g.cells[j:]))
            left.spans[cell], right.spans[cell] = (start, k), (k, end)
            trial = groups[:i] + [left, right] + groups[i + 1 :]
            largest = _largest(trial, i, returns_of)
            if largest >= now:
                continue
            key = (largest, abs(len(inside) - 2 * inside.index(k)))
            if best is None or key < best[0]:
                best = (key, trial)
    return best[1] if best else None


def _spans(g: Group, cells: list[int]) -> dict[int, Span]:
    return {c: s for c, s in g.spans.items() if c in cells}


def _best_cut(
    flow: Flow,
    groups: list[Group],
    i: int,
    now: int,
    returns_of: Callable[[list[Group]], list[int]],
) -> list[Group] | None:
    g = groups[i]
    if len(g.cells) < 2:
        return None
    kinds = stages(flow, g.cells)
    best: tuple[tuple[int, int, int], list[Group]] | None = None
    for k in range(1, len(g.cells)):
        parts = [
            Group(g.heading, g.cells[:k], True, _spans(g, g.cells[:k])),
            Group(g.heading, g.cells[k:], True, _spans(g, g.cells[k:])),
        ]
        trial = groups[:i] + parts + groups[i + 1 :]
        counts = returns_of(trial)
        largest = max(counts[i], counts[i + 1])
        if largest >= now:
            continue
        at_stage = 0 if kinds[k] is not None and kinds[k] != kinds[k - 1] else 1
        key = (largest, at_stage, abs(2 * k - len(g.cells)))
        if best is None or key < best[0]:
            best = (key, trial)
    return best[1] if best else None
