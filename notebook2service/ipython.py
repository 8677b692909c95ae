"""IPython syntax → valid Python, with every occurrence recorded. Nothing is executed.

IPython's own ``TransformerManager`` tokenizes every cell and is ~3.5x slower than
``ast.parse``; here a cell that parses as Python is taken as it is (the common case), and
only a cell that does not is scanned line by line. The scan knows which lines start a
statement (outside brackets, strings and continuations), so ``%``/``!`` in the middle of an
expression or inside a string are left alone, and magics inside indented blocks are found.

The translation keeps the line count: line N of the Python is line N of the cell. Where a
prefix was removed (``%time x = f()`` → ``x = f()``) the removed width is kept in
``col_shift`` so columns map back exactly.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import string
import warnings
from dataclasses import dataclass, field

from .notebook import bracket_depth

#: cell magics whose body is Python and runs in the user namespace
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit"})
#: line magics whose argument is a Python statement that runs in the user namespace
PYTHON_ARG_LINE_MAGICS = frozenset({"time", "timeit", "prun", "debug", "memit", "mprun"})
#: magics that only configure the interactive session (safe to drop in production)
SESSION_MAGICS = frozenset(
    {
        "matplotlib",
        "config",
        "load_ext",
        "reload_ext",
        "unload_ext",
        "autoreload",
        "aimport",
        "precision",
        "pprint",
        "autosave",
        "xmode",
        "colors",
        "who",
        "whos",
        "who_ls",
        "lsmagic",
        "magic",
        "history",
        "time",
        "timeit",
        "prun",
        "memit",
        "capture",
        "pinfo",
        "pinfo2",
        "pdoc",
        "psource",
        "pdef",
        "pfile",
        "page",
        "quickref",
        "watermark",
        "notebook_url",
        "qtconsole",
    }
)

_MAGIC_NAME = re.compile(r"[A-Za-z_][\w.]*")
_ASSIGN = re.compile(
    r"^(?P<lhs>[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*(?P<op>!|%(?!%))\s*(?P<rest>.*)$",
    re.S,
)
_HELP_END = re.compile(r"^(?P<obj>[A-Za-z_][\w.]*(?:\(\))?(?:\[[^\]]*\][\w.]*)?)\s*(?P<q>\?\??)$")
_HELP_START = re.compile(r"^(?P<q>\?\??)\s*(?P<obj>[A-Za-z_][\w.*]*)$")
_TIMEIT_OPTS = re.compile(r"^(?:-[nrp]\s*\d+\s+|-[tcqo]\s+)*")


def timeit_statement(args: str) -> str:
    """`%timeit`'s statement (`%%timeit`'s setup): its arguments without the options."""
    return _TIMEIT_OPTS.sub("", args + " ", count=1).strip()


def shell_words(text: str) -> list[str]:
    """A shell line's words as the shell splits them (quotes, escapes); with unbalanced
    quotes, split at whitespace. The one tokenizer of magic arguments and `!` commands
    (`%%writefile -a "my file.py"`, `!pip install "pandas>=2"`)."""
    import shlex

    try:
        return shlex.split(text)
    except ValueError:  # unbalanced quotes
        return text.split()


@dataclass(frozen=True)
class Occurrence:
    """One piece of IPython syntax in a cell."""

    kind: str  # line_magic | cell_magic | shell | help
    name: str  # magic name ('pip', 'writefile'), 'shell' for '!', 'help' for '?'
    line: int  # 1-based line in the cell
    column: int  # 0-based column in the cell
    text: str  # the occurrence as written (continuation lines joined)
    args: str = ""  # magic arguments or the shell command
    target: str | None = None  # `x` in `x = !ls` / `x = %env HOME`
    body: str | None = None  # a cell magic's body
    end_line: int | None = None  # last line of the occurrence (cell magics: the whole cell)

    def writefile(self) -> tuple[str, bool] | None:
        """(target file, append?) of a `%%writefile [-a] FILE` cell, else None."""
        if self.kind != "cell_magic" or self.name != "writefile":
            return None
        argv = shell_words(self.args)
        names = [a for a in argv if not a.startswith("-")]
        return (names[0], "-a" in argv or "--append" in argv) if names else None

    def write_into(self, files: dict[str, str]) -> str | None:
        """Apply this `%%writefile [-a] FILE` to `files` (path → text written so far): the body,
        newline-terminated, replaces the file or (`-a`) is appended to it. Returns the target."""
        written = self.writefile()
        if written is None:
            return None
        target, append = written
        body = self.body or ""
        text = body if body.endswith("\n") else body + "\n"
        files[target] = (files.get(target, "") if append else "") + text
        return target

    @property
    def display(self) -> str:
        if self.kind == "cell_magic":
            return f"%%{self.name}"
        if self.kind == "shell":
            return "!" + self.args.split(" ", 1)[0] if self.args else "!"
        if self.kind == "help":
            return "?"
        return f"%{self.name}"


@dataclass
class Translation:
    source: str
    python: str
    occurrences: list[Occurrence] = field(default_factory=list)
    col_shift: dict[int, int] = field(default_factory=dict)
    tree: ast.Module | None = None
    error: SyntaxError | None = None
    #: names a magic may have defined that analysis cannot see (%run, %store -r, %pylab)
    opaque_defs: bool = False
    star_import: bool = False
    #: columns IPython removed from every line (a cell indented as a whole)
    dedent: int = 0
    #: `$name` reads in shell lines: real reads only if the notebook defines `name`
    soft_reads: set[str] = field(default_factory=set)
    #: line → scope for `%timeit` / `%%timeit` code: IPython runs each in a function scope of
    #: its own (keyed by the magic's first line), so it reads the notebook's names, binds none
    scoped_lines: dict[int, int] = field(default_factory=dict)


#: IPython's `$name` / `$a.b` field (DollarFormatter): not before an odd number of single
#: quotes (so not inside '...'); `$$x` is the text `$x`
_DOLLAR_FIELD = re.compile(r"(.*?)\$(\$?[\w\.]+)(?=([^']*'[^']*')*[^']*$)")


@dataclass(frozen=True)
class Field:
    """One piece of an expanded `!` / magic line: literal `text`, then (unless `source` is
    None) a Python expression whose value IPython inserts, after `conversion` (r, s, a)."""

    text: str
    source: str | None = None
    conversion: str | None = None
    dollar: bool = False  # a `$name` field (a shell variable when the notebook has no `name`)


def expansion(command: str) -> list[Field] | None:
    """IPython's `var_expand` of a line, statically: its DollarFormatter parse (the standard
    `string.Formatter` fields, then `$name` in their literal text). A field's format spec is
    not a format spec there: IPython evaluates `name:spec` as one expression (to allow
    slices) and formats the value with no spec. None when IPython's formatter fails on the
    line as written (a lone brace, a field that is not an expression, an unknown
    conversion): IPython then runs the line unexpanded."""
    try:
        parsed = list(string.Formatter().parse(command))
    except ValueError:
        return None
    out: list[Field] = []
    for literal, name, spec, conversion in parsed:
        text, pos = "", 0
        for m in _DOLLAR_FIELD.finditer(literal):
            before, found = m.group(1, 2)
            if found.startswith("$"):
                text += before + found
            else:
                out.append(Field(text + before, found, None, True))
                text = ""
            pos = m.end()
        text += literal[pos:]
        if name is None:
            out.append(Field(text))
            continue
        source = (f"{name}:{spec}" if spec else name).lstrip(" \t")
        if conversion not in (None, "r", "s", "a"):
            return None
        out.append(Field(text, source, conversion))
    if any(f.source is not None and _expression(f.source) is None for f in out):
        return None
    return out


def _expression(source: str) -> ast.expr | None:
    try:
        return ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def expanded_reads(text: str) -> tuple[list[str], list[str]]:
    """(names, soft names) IPython's expansion of a magic or shell line reads, from the one
    parse (`expansion`): the names of its `{expr}` fields, and the names `$name` / `$a.b`
    fields start from (a Python variable if the notebook defines one, else the shell's own,
    e.g. `$HOME`: the dataflow decides, these are soft reads). Neither when IPython runs
    the line unexpanded (its formatter fails on it)."""
    hard: list[str] = []
    soft: list[str] = []
    for f in expansion(text) or []:
        if f.source is None:
            continue
        names = soft if f.dollar else hard
        for node in ast.walk(_expression(f.source)):
            if isinstance(node, ast.Name) and node.id not in names:
                names.append(node.id)
    return hard, [n for n in soft if n not in hard]


def _reads_stmt(names: list[str]) -> str:
    return "(" + ", ".join(names) + ",)" if names else "pass"


def _scan_state(line: str, state: list) -> None:
    """Advance [open_string, depth, continued] over one line of Python."""
    open_string, depth = state[0], state[1]
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if open_string is not None:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(open_string, i):
                i += len(open_string)
                open_string = None
                continue
            i += 1
            continue
        if ch == "#":
            break
        if ch in "\"'":
            triple = line[i : i + 3]
            if triple in ('"""', "'''"):
                open_string = triple
                i += 3
                continue
            # a one-line string: find its end on this line
            j = i + 1
            while j < n and line[j] != ch:
                j += 2 if line[j] == "\\" else 1
            i = j + 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        i += 1
    stripped = line.rstrip("\r\n")
    state[2] = open_string is None and stripped.endswith("\\") and not stripped.endswith("\\\\")
    state[0], state[1] = open_string, depth


class _Translator:
    def __init__(self, source: str):
        self.source = source
        self.lines = source.split("\n")
        self.out = list(self.lines)
        self.occ: list[Occurrence] = []
        self.col_shift: dict[int, int] = {}
        self.opaque = False
        self.star = False
        self._keep_continuation = False
        self.soft_reads: set[str] = set()
        self.scoped: dict[int, int] = {}

    def run(self) -> None:
        first = 0
        while first < len(self.lines) and not self.lines[first].strip():
            first += 1
        if first < len(self.lines) and self.lines[first].lstrip().startswith("%%"):
            if not self._cell_magic(first):
                return
            start = first + 1
        else:
            start = 0
        self._scan_lines(start)

    # -- cell magics ---------------------------------------------------------------
    def _cell_magic(self, i: int) -> bool:
        """Handle `%%name args` on line i; True when the body is Python to scan further."""
        head = self.lines[i]
        col = len(head) - len(head.lstrip())
        spec = head.strip()[2:]
        m = _MAGIC_NAME.match(spec)
        name = m.group(0) if m else ""
        args = spec[len(name) :].strip()
        body = "\n".join(self.lines[i + 1 :])
        self.occ.append(
            Occurrence(
                "cell_magic", name, i + 1, col, head.strip(), args, None, body, len(self.lines)
            )
        )
        if name in PYTHON_BODY_CELL_MAGICS:
            if name == "timeit":
                self._timeit_cell(i, head.rstrip(), args)
                return True
            target = args.split()[0] if name == "capture" and args.split() else None
            if target and target.isidentifier() and not target.startswith("-"):
                self.out[i] = f"{target} = ..."
            else:
                self.out[i] = ""
            return True
        for k in range(i, len(self.lines)):
            self.out[k] = ""
        return False

    def _timeit_cell(self, i: int, head: str, args: str) -> None:
        """`%%timeit [setup]`: setup and body are one function scope."""
        setup = timeit_statement(args)
        try:
            ast.parse(setup)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            setup = ""
        self.out[i] = setup
        if setup and head.endswith(setup):
            self.col_shift[i + 1] = len(head) - len(setup)
        self.scoped.update(dict.fromkeys(range(i + 1, len(self.lines) + 1), i + 1))

    # -- line by line --------------------------------------------------------------
    def _scan_lines(self, start: int) -> None:
        state: list = [None, 0, False]
        i = start
        while i < len(self.lines):
            line = self.lines[i]
            at_stmt = state[0] is None and state[1] == 0 and not state[2]
            if at_stmt and self._maybe_magic(i):
                # skip the continuation lines the magic consumed
                while i < len(self.lines) and self.lines[i].rstrip().endswith("\\"):
                    i += 1
                i += 1
                continue
            _scan_state(line, state)
            i += 1

    def _joined(self, i: int) -> tuple[str, int]:
        """The logical line starting at i (backslash continuations joined) and its last index."""
        parts = [self.lines[i]]
        j = i
        while parts[-1].rstrip().endswith("\\") and j + 1 < len(self.lines):
            parts[-1] = parts[-1].rstrip()[:-1]
            j += 1
            parts.append(self.lines[j])
        return " ".join(p.strip() for p in parts), j

    def _maybe_magic(self, i: int) -> bool:
        line = self.lines[i]
        stripped = line.strip()
        if not stripped or stripped[0] == "#":
            return False
        indent = line[: len(line) - len(line.lstrip())]
        col = len(indent)
        first = stripped[0]
        if first in "!%" or stripped.endswith("?") or first == "?":
            pass
        elif "=" in stripped and ("!" in stripped or "%" in stripped):
            pass
        else:
            return False
        text, last = self._joined(i)
        lineno = i + 1
        before = len(self.occ)
        self._keep_continuation = False
        handled = self._classify(i, indent, col, first, stripped, text, lineno)
        if handled and len(self.occ) > before and not self._keep_continuation:
            for k in range(i + 1, last + 1):
                self.out[k] = ""
        return handled

    def _classify(
        self, i: int, indent: str, col: int, first: str, stripped: str, text: str, lineno: int
    ) -> bool:

        if first == "!":
            cmd = text[2:] if text.startswith("!!") else text[1:]
            self.occ.append(Occurrence("shell", "shell", lineno, col, text, cmd.strip()))
            self.out[i] = indent + _reads_stmt(self._reads(cmd))
            return True
        if first == "%" and not stripped.startswith("%%"):
            return self._line_magic(i, indent, text[1:], text, None)
        if first == "%" and stripped.startswith("%%"):
            # a cell magic that is not on the first line: IPython runs it as a line magic
            # call, which fails; keep it visible as a magic all the same
            return self._line_magic(i, indent, text[2:], text, None)
        m = _ASSIGN.match(text)
        if m:
            lhs, op, rest = m.group("lhs"), m.group("op"), m.group("rest")
            if op == "!":
                self.occ.append(Occurrence("shell", "shell", lineno, col, text, rest.strip(), lhs))
                self.out[i] = f"{indent}{lhs} = {_reads_stmt(self._reads(rest))}"
                if self.out[i].endswith("= pass"):
                    self.out[i] = f"{indent}{lhs} = ..."
                return True
            return self._line_magic(i, indent, rest, text, lhs)
        m = (_HELP_END.match(text) or _HELP_START.match(text)) if len(text) <= 300 else None
        if m:
            self.occ.append(Occurrence("help", "help", lineno, col, text, m.group("obj")))
            self.out[i] = indent + "pass"
            return True
        return False

    def _reads(self, text: str) -> list[str]:
        reads, soft = expanded_reads(text)
        self.soft_reads.update(soft)
        return reads + soft

    def _line_magic(self, i: int, indent: str, spec: str, text: str, target: str | None) -> bool:
        m = _MAGIC_NAME.match(spec)
        if not m:
            return False
        name = m.group(0)
        args = spec[len(name) :].strip()
        col = len(indent)
        self.occ.append(Occurrence("line_magic", name, i + 1, col, text, args, target))
        if name in PYTHON_ARG_LINE_MAGICS and target is None and args:
            # the statement starts on this physical line; backslash continuation lines are
            # Python and stay where they are (so their positions stay exact)
            physical = self.lines[i].rstrip()
            first = physical.strip()[1:].lstrip("%")[len(name) :].strip()
            stmt = timeit_statement(first) if name == "timeit" else first
            rest = []
            k = i
            while self.lines[k].rstrip().endswith("\\") and k + 1 < len(self.lines):
                k += 1
                rest.append(self.lines[k])
            try:
                ast.parse("\n".join([stmt, *rest]))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                stmt = ""
            if stmt:
                if name == "timeit":
                    self.scoped.update(dict.fromkeys(range(i + 1, k + 2), i + 1))
                self.out[i] = indent + stmt
                # stmt is a suffix of the line: columns inside it move left by this much
                self.col_shift[i + 1] = len(physical) - col - len(stmt)
                self._keep_continuation = True
                return True
        reads = self._reads(args)
        if name == "run" or name == "load":
            self.opaque = True
        elif name == "pylab":
            self.star = True
        elif name == "store" and args.startswith("-r"):
            names = [n for n in args[2:].split() if n.isidentifier()]
            if names:
                self.out[i] = indent + " = ".join(names) + " = ..."
                return True
            self.opaque = True
        elif name == "store" and args and not args.startswith("-"):
            reads = [n for n in args.split() if n.isidentifier()]
        if target is not None:
            self.out[i] = f"{indent}{target} = {_reads_stmt(reads)}"
            if self.out[i].endswith("= pass"):
                self.out[i] = f"{indent}{target} = ..."
        else:
            self.out[i] = indent + _reads_stmt(reads)
        return True


#: a line that may hold IPython syntax; without one, the cell is plain Python or an error
#: bounds checked before any recursive parser (ast, libcst) sees a cell: past them libcst
#: segfaults or takes minutes, and CPython's parser raises RecursionError. One bound, used by
#: lint (NB001) and convert (the cell is kept as a comment).
MAX_CELL_CHARS = 2_000_000
MAX_CELL_LINES = 20_000
MAX_NESTING = 100  # brackets open at once
MAX_UNARY_RUN = 50  # `- - - 1`, `not not x`
MAX_LINE_OPERATORS = 2_000  # operators, dots and lambdas in one line: `1+1+...`, `.a.a.a`
_STRINGS = re.compile(r"""(?:[rRbBuUfF]{0,2})(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")""")
_COMMENT = re.compile(r"#[^\n]*")
_UNARY_RUN = re.compile(r"(?:(?:[-+~]|\bnot\b)\s*){" + str(MAX_UNARY_RUN + 1) + ",}")
_OPERATOR = re.compile(r"[-+*/%@&|^~<>=.]|\blambda\b")


def complexity_error(source: str) -> str | None:
    """Why `source` is too large or too deeply nested to parse safely, or None."""
    if len(source) > MAX_CELL_CHARS:
        return f"cell too large to analyse ({len(source):,} characters; limit {MAX_CELL_CHARS:,})"
    lines = source.count("\n") + 1
    if lines > MAX_CELL_LINES:
        return f"cell too large to analyse ({lines:,} lines; limit {MAX_CELL_LINES:,})"
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid Unicode (a lone surrogate at character {exc.start})"
    code = _COMMENT.sub("", _STRINGS.sub('""', source))
    deepest = bracket_depth(code)
    if deepest > MAX_NESTING:
        return f"too deeply nested to analyse ({deepest} brackets deep; limit {MAX_NESTING})"
    if _UNARY_RUN.search(code):
        return f"too deeply nested to analyse (over {MAX_UNARY_RUN} unary operators in a row)"
    for line in code.split("\n"):
        if len(line) > MAX_LINE_OPERATORS and len(_OPERATOR.findall(line)) > MAX_LINE_OPERATORS:
            return (
                f"expression too long to analyse (over {MAX_LINE_OPERATORS:,} operators in a line)"
            )
    return None


_MAYBE_IPYTHON = re.compile(r"^[ \t]*[%!?]|\?[ \t]*$|=[ \t]*[!%]", re.M)


def _leading_indent(source: str) -> tuple[str, int]:
    """IPython removes the first line's indentation from every line of a cell."""
    if not source or source[0] not in " \t":
        return source, 0
    prefix = source[: len(source) - len(source.lstrip(" \t"))]
    if "\n" in prefix:
        return source, 0
    lines = source.split("\n")
    return "\n".join(ln[len(prefix) :] if ln.startswith(prefix) else ln for ln in lines), len(
        prefix
    )


def translate(source: str) -> Translation:
    """Turn a cell's source into valid Python where possible, recording IPython syntax."""
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # SyntaxWarning for the notebook's code is not ours to print
        source, indent = _leading_indent(source)
        t = _translate(source)
    if indent:
        t.dedent = indent
        t.occurrences = [dataclasses.replace(o, column=o.column + indent) for o in t.occurrences]
    return t


def _translate(source: str) -> Translation:
    too_complex = complexity_error(source)
    if too_complex is not None:
        err = SyntaxError(too_complex)
        err.lineno, err.offset = 1, 1
        return Translation(source, source, error=err)
    # A failed parse costs CPython two passes (the second for the error message), so cells
    # that visibly hold IPython syntax go straight to the line scan.
    if not _MAYBE_IPYTHON.search(source):
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            tree = None
        except (RecursionError, MemoryError):
            err = SyntaxError("too deeply nested to analyse")
            err.lineno, err.offset = 1, 1
            return Translation(source, source, error=err)
        if tree is not None:
            return Translation(source, source, tree=tree)
    t = _Translator(source)
    t.run()
    if not t.occ:
        python = source
    else:
        python = "\n".join(t.out)
    result = Translation(
        source,
        python,
        t.occ,
        t.col_shift,
        opaque_defs=t.opaque,
        star_import=t.star,
        soft_reads=t.soft_reads,
        scoped_lines=t.scoped,
    )
    try:
        result.tree = ast.parse(python)
    except SyntaxError as exc:
        result.error = exc
    except (RecursionError, MemoryError):
        err = SyntaxError("too deeply nested to analyse")
        err.lineno, err.offset = 1, 1
        result.error = err
    except ValueError as exc:  # e.g. NUL bytes
        err = SyntaxError(str(exc) or "cannot be parsed")
        err.lineno, err.offset = 1, 1
        result.error = err
    return result
