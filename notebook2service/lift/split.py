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
  as that helps.
Steps are whole cells, so the cell→step map and the line map stay exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..dataflow import Flow
from .names import phase_of

MAX_RETURNS = 5
#: a group with at least this many cells is cut at every stage change
LONG = 4
_STAGE = {"load": 0, "split": 1, "prepare": 1, "fit": 2, "evaluate": 3, "plot": 3}


@dataclass
class Group:
    heading: str | None
    cells: list[int]
    part: bool = False  # one of several parts of a heading's cells


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
    flow: Flow, groups: list[Group], returns_of: Callable[[list[Group]], list[int]]
) -> list[Group]:
    """Cut steps that return more than MAX_RETURNS names while a cut lowers the largest
    part's returns. `returns_of(groups)`: how many names each group's step returns."""
    for _ in range(200):  # each round cuts one step; bounded for huge notebooks
        counts = returns_of(groups)
        worst = max(range(len(groups)), key=lambda i: counts[i], default=None)
        if worst is None or counts[worst] <= MAX_RETURNS:
            return groups
        best = _best_cut(flow, groups, worst, counts[worst], returns_of)
        if best is None:
            return groups
        groups = best
    return groups


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
        parts = [Group(g.heading, g.cells[:k], True), Group(g.heading, g.cells[k:], True)]
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
