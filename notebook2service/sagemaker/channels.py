"""libcst transform: data-file reads become SageMaker channel reads.

`pd.read_csv("data/train.csv", sep=";")` (or the same path held in a constant) becomes
`read_channel(pd.read_csv, "train", "data/train.csv", sep=";")`: the same call on the
notebook's path when run locally, the file of that name in `$SM_CHANNEL_TRAIN` under SageMaker
(its parts, concatenated, when the channel holds the data sharded).
"""

from __future__ import annotations

import ast

import libcst as cst

from ..lift.glue import quoted
from .decide import READERS


class ChannelReads(cst.CSTTransformer):
    def __init__(self, channels: dict[str, str]):
        self.channels = channels  # "path:<literal>" or "name:<variable>" -> channel name
        self.rewritten = 0

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = updated.func
        last = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
        if last not in READERS or not updated.args or updated.args[0].keyword is not None:
            return updated
        first = updated.args[0].value
        if isinstance(first, cst.Name):
            key = "name:" + first.value
        elif isinstance(first, cst.SimpleString):
            try:
                key = "path:" + ast.literal_eval(first.value)
            except (ValueError, SyntaxError):
                return updated
        else:
            return updated
        name = self.channels.get(key)
        if name is None:
            return updated
        self.rewritten += 1
        args = [
            cst.Arg(func),
            cst.Arg(quoted(name)),
            *[a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in updated.args],
        ]
        return cst.Call(cst.Name("read_channel"), args)


def rewrite(node: cst.CSTNode, channels: dict[str, str]) -> tuple[cst.CSTNode, int]:
    t = ChannelReads(channels)
    return node.visit(t), t.rewritten
