"""The training entrypoint's slice, cell by cell, from the dataflow.

`training_cells` walks def-use edges backwards from the cell that fits the model: the
cells that bind or mutate what it reads, and theirs, up to each name's last binding. The
plan then keeps costly work the model does not need (fitting, searching, cross-validating
something else) out of the steps that are in the slice, so `train` never runs it.
"""

from __future__ import annotations

from ..dataflow import CellFlow, Flow

#: calls (last part of the dotted name) that train something: work to keep out of `train`
COSTLY = frozenset(
    "fit partial_fit fit_predict fit_transform fit_resample fit_generator train "
    "cross_val_score cross_validate cross_val_predict learning_curve validation_curve "
    "permutation_importance".split()
)


def is_costly(f: CellFlow) -> bool:
    for call in f.calls:
        last = call.func.rsplit(".", 1)[-1]
        if last in COSTLY or last.endswith(("SearchCV", "SearchCV_")):
            return True
    return False


def backward(flow: Flow, cell: int) -> set[int]:
    """The cells `cell` needs: each read's last binding before it and the mutations since."""
    order = [f.cell.index for f in flow.cells]
    needed = {cell}
    frontier = [cell]
    while frontier:
        current = frontier.pop()
        if current not in flow.expanded:
            continue
        wants = {u.name for u in flow.expanded[current]}
        earlier = [i for i in order if i < current]
        for name in wants:
            for idx in reversed(earlier):
                f = flow.by_index[idx]
                binds = name in flow.defs_of(f)
                if binds or any(m.name == name for m in f.mutations):
                    if idx not in needed:
                        needed.add(idx)
                        frontier.append(idx)
                if binds and not any(m.name == name for m in f.mutations):
                    break  # a fresh binding: nothing earlier reaches this read
    return needed


def training_cells(flow: Flow, model_cell: int | None) -> tuple[set[int], set[int]]:
    """(cells the model needs, cells doing costly work); both empty without a model."""
    if model_cell is None:
        return set(), set()
    costly = {f.cell.index for f in flow.cells if is_costly(f)}
    return backward(flow, model_cell), costly
