"""IPython syntax → production Python, by kind. Never silently dropped: every occurrence
gets an ``Action`` that the manifest reports.

The analysis translation (``ipython.translate``) keeps names and positions; this one keeps
behaviour: ``x = !ls`` becomes a call to the package's small shell helper, ``%%writefile``
becomes a real file, ``!pip install`` becomes a requirement, session magics disappear.
Lines that are not IPython syntax are left exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from ..ipython import (
    PYTHON_ARG_LINE_MAGICS,
    PYTHON_BODY_CELL_MAGICS,
    SESSION_MAGICS,
    Occurrence,
    Translation,
    timeit_statement,
)
from ..requirements import installs_packages
from . import scoped
from .glue import dotted
from .interpolate import code_of, command_expression

_FETCH = re.compile(
    r"^\s*(?:wget|curl|gsutil\s+(?:-m\s+)?cp|aws\s+s3\s+(?:cp|sync)|azcopy|kaggle\s+\w+\s+download|git\s+clone)\b"
)


@dataclass
class Action:
    """What convert did with one piece of IPython syntax."""

    cell: int
    line: int
    syntax: str  # the occurrence as written
    kind: str  # removed | unwrapped | requirement | shell | data | file | env | comment | chdir
    detail: str = ""

    def to_dict(self) -> dict:
        return {
            "cell": self.cell,
            "line": self.line,
            "syntax": self.syntax,
            "action": self.kind,
            "detail": self.detail,
        }


@dataclass
class CellCode:
    """A cell's production source plus what its IPython syntax turned into."""

    source: str | None  # None: the cell leaves the pipeline (e.g. %%writefile)
    actions: list[Action] = field(default_factory=list)
    pip: list[str] = field(default_factory=list)  # pip command texts (for requirements)
    files: dict[str, str] = field(default_factory=dict)  # %%writefile outputs
    appends: set[str] = field(default_factory=set)  # %%writefile -a: added to earlier cells'
    helpers: set[str] = field(default_factory=set)  # runtime helpers the code calls
    imports: set[str] = field(default_factory=set)  # stdlib modules the code now needs


def _call_line(
    indent: str, func: str, command: str, known: set[str], target: str | None = None
) -> str:
    """`func(<command>)` (or `target = func(...)`) as one line of source, built as nodes."""
    value = cst.Call(dotted(func), [cst.Arg(command_expression(command, known))])
    small: cst.BaseSmallStatement = cst.Expr(value)
    if target is not None:
        small = cst.Assign([cst.AssignTarget(cst.parse_expression(target))], value)
    return indent + code_of(cst.SimpleStatementLine([small])).strip()


def _nothing(indent: str) -> str:
    """A removed line: nothing at the top level, `pass` inside a block (which may need it)."""
    return indent + "pass" if indent else ""


def _comment(indent: str, text: str) -> str:
    return (
        f"{indent}# nb2svc: IPython syntax kept as a comment (no plain-Python equivalent): {text}"
    )


def _env(args: str, target: str | None, indent: str, code: CellCode) -> str | None:
    code.imports.add("os")
    if target is not None:
        name = args.strip()
        return (
            f"{indent}{target} = os.environ.get({name!r})"
            if name
            else f"{indent}{target} = dict(os.environ)"
        )
    m = re.match(r"^\s*([A-Za-z_]\w*)\s*[= ]\s*(.*)$", args)
    if m and m.group(2):
        return f"{indent}os.environ[{m.group(1)!r}] = {m.group(2).strip()!r}"
    return None


def production_source(cell_index: int, t: Translation, known: set[str]) -> CellCode:
    """Rewrite a cell's IPython syntax for production; other lines are kept verbatim."""
    code = CellCode(source=None)
    lines = t.source.split("\n")
    out = list(lines)
    occs = t.occurrences
    cell_magic = next((o for o in occs if o.kind == "cell_magic"), None)
    if cell_magic is not None and cell_magic.name not in PYTHON_BODY_CELL_MAGICS:
        return _cell_magic(cell_index, cell_magic, code, known)
    for occ in occs:
        idx = occ.line - 1
        indent = lines[idx][: len(lines[idx]) - len(lines[idx].lstrip())]
        # continuation lines that belonged to the occurrence
        end = idx
        while end + 1 < len(lines) and lines[end].rstrip().endswith("\\"):
            end += 1
        for k in range(idx + 1, end + 1):
            out[k] = ""

        def act(kind: str, detail: str = "", occ: Occurrence = occ) -> None:
            syntax = occ.text if occ.kind != "cell_magic" else f"%%{occ.name} {occ.args}".strip()
            code.actions.append(Action(cell_index, occ.line, syntax, kind, detail))

        if occ.kind == "cell_magic":  # a Python-body cell magic: its body, wrapped at the end
            out[idx] = ""
            continue
        if occ.kind == "help":
            out[idx] = _nothing(indent)
            act("removed", "help")
            continue
        if occ.kind == "shell":
            out[idx] = _shell_line(occ, indent, code, known, act)
            continue
        out[idx] = _line_magic(occ, indent, "\n".join(lines[idx : end + 1]), t, code, known, act)
    code.source = "\n".join(out)
    if cell_magic is not None:
        _python_body(cell_index, cell_magic, out, code)
    return code


def _python_body(cell_index: int, occ: Occurrence, out: list[str], code: CellCode) -> None:
    """A Python-body cell magic, once its lines are production Python: `%%capture` becomes a
    `with` block, `%%timeit` a scope of its own, the others (`%%time`, ...) just the body."""
    idx = occ.line - 1
    head = f"%%{occ.name} {occ.args}".strip()
    body = "\n".join(out[idx + 1 :])
    wrapped: str | None = None
    if occ.name == "capture":
        words = occ.args.split()
        target = words[0] if words and not occ.args.startswith("-") else "_captured"
        wrapped = scoped.captured(body, target)
        code.imports.update({"contextlib", "io"})
        detail = "%%capture → contextlib.redirect_stdout"
    elif occ.name == "timeit":
        setup = timeit_statement(occ.args)
        wrapped = scoped.own_scope(f"{setup}\n{body}" if setup else body, "", "%%timeit")
        detail = "%%timeit → its body run once in a function scope of its own"
    else:
        detail = f"%%{occ.name} removed, body kept"
    if wrapped is not None:
        code.source = "\n".join([*out[:idx], wrapped])
    elif occ.name in ("capture", "timeit") and body.strip():
        detail = f"%%{occ.name}: the body does not parse; kept as it is"
    code.actions.append(Action(cell_index, occ.line, head, "unwrapped", detail))


Act = Callable[..., None]


def _shell_line(occ: Occurrence, indent: str, code: CellCode, known: set[str], act: Act) -> str:
    """`!cmd`: a requirement when it installs packages, else a shell() call."""
    cmd = occ.args
    if installs_packages(cmd, first=True):
        code.pip.append(cmd)
        act("requirement", cmd)
        return _nothing(indent)
    call = "shell_lines" if occ.target else "shell"
    code.helpers.add(call)
    act("data" if _FETCH.search(cmd) else "shell", cmd)
    return _call_line(indent, call, cmd, known, occ.target)


def _line_magic(
    occ: Occurrence,
    indent: str,
    text: str,
    t: Translation,
    code: CellCode,
    known: set[str],
    act: Act,
) -> str:
    """A `%magic` line: its plain-Python replacement (or a comment when there is none)."""
    line = ""
    name, args = occ.name, occ.args
    if name in ("pip", "conda") and args.split()[:1] == ["install"]:
        code.pip.append(f"{name} {args}")
        line = _nothing(indent)
        act("requirement", f"{name} {args}")
    elif (
        name in PYTHON_ARG_LINE_MAGICS
        and occ.target is None
        and t.col_shift.get(occ.line) is not None
    ):
        stmt = text.rstrip()[len(indent) + t.col_shift[occ.line] :]
        line = indent + stmt
        if name == "timeit" and (scope := scoped.own_scope(stmt, indent, "%timeit")) is not None:
            line = scope
            act("unwrapped", "%timeit → its statement run once in a function scope of its own")
        else:
            act("unwrapped", f"%{name} removed, statement kept")
    elif name in ("env", "set_env") and (new := _env(args, occ.target, indent, code)) is not None:
        line = new
        act("env", args)
    elif name == "cd" and occ.target is None:
        code.imports.add("os")
        line = _call_line(indent, "os.chdir", args, known)
        act("chdir", args)
    elif name in ("system", "sx") or (name == "sh"):
        call = "shell_lines" if occ.target else "shell"
        code.helpers.add(call)
        line = _call_line(indent, call, args, known, occ.target)
        act("shell", args)
    elif name in SESSION_MAGICS and occ.target is None:
        line = _nothing(indent)
        act("removed", f"%{name} only configures the interactive session")
    else:
        line = _comment(indent, occ.text) + ("\n" + indent + "pass" if indent else "")
        if occ.target:
            line += f"\n{indent}{occ.target} = None"
        act("comment", f"%{name} has no plain-Python equivalent")
    return line


def _cell_magic(cell_index: int, occ: Occurrence, code: CellCode, known: set[str]) -> CellCode:
    head = f"%%{occ.name} {occ.args}".strip()
    body = occ.body or ""
    written = occ.writefile()
    if written is not None:
        target, append = written
        occ.write_into(code.files)  # this cell's text; convert.lift appends across cells
        if append:
            code.appends.add(target)
        code.actions.append(Action(cell_index, occ.line, head, "file", target))
        return code
    if occ.name in ("bash", "sh", "script") and (
        occ.name != "script" or occ.args.split()[:1] in (["bash"], ["sh"])
    ):
        code.helpers.add("shell")
        code.source = f"shell({body!r}, executable='/bin/bash')"
        code.actions.append(Action(cell_index, occ.line, head, "shell", "cell run with bash"))
        return code
    lines = [_comment("", head)] + ["# " + ln for ln in body.split("\n")] + ["pass"]
    code.source = "\n".join(lines)
    code.actions.append(
        Action(cell_index, occ.line, head, "comment", f"%%{occ.name} cell kept as a comment")
    )
    return code
