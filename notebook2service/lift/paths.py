"""Which names a run of statements binds on every path (path-aware, static).

A step function returns the names later steps read. A name bound on one path only
(`try: import a` / `except ImportError: import b`; `if x: y = 1`) would make `return a, b`
raise UnboundLocalError on the other path, which the notebook never did: there the name is
simply absent, and only a later read of it fails, with NameError. Such names therefore stay
module globals (the steps that bind them declare `global`), which keeps exactly that: nothing
fails at the end of the step, and a later read of an absent name fails as it did in the notebook.

The analysis is conservative: a name it cannot prove bound on every path is "maybe", which
only costs readability (a global instead of a return), never behaviour.
"""

from __future__ import annotations

import ast

from ..exports import target_names

Bound = frozenset[str]


def definitely_bound(stmts: list[ast.stmt], bound: set[str], skip: set[int]) -> set[str]:
    """Names bound after `stmts` on every path that reaches their end, starting from `bound`
    (statements starting on a line in `skip` bind nothing: `%timeit` code)."""
    state = _block(stmts, frozenset(bound), skip)
    return set(state) if state is not None else set(bound)


def _block(stmts: list[ast.stmt], state: Bound, skip: set[int]) -> Bound | None:
    """The state after a block; None when no path falls through its end (raise, return...)."""
    for stmt in stmts:
        if stmt.lineno in skip:
            continue
        after = _statement(stmt, state, skip)
        if after is None:
            return None
        state = after
    return state


def _join(states: list[Bound | None]) -> Bound | None:
    """Paths merge: what every path that falls through has bound."""
    alive = [s for s in states if s is not None]
    if not alive:
        return None
    out = alive[0]
    for s in alive[1:]:
        out &= s
    return out


def _statement(stmt: ast.stmt, state: Bound, skip: set[int]) -> Bound | None:
    if isinstance(stmt, (ast.Raise, ast.Return, ast.Continue, ast.Break)):
        return None
    if isinstance(stmt, ast.If):
        taken = _always(stmt.test)
        body = _block(stmt.body, state, skip)
        if taken:
            return body
        return _join([body, _block(stmt.orelse, state, skip)])
    if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
        return _loop(stmt, state, skip)
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        for item in stmt.items:
            if item.optional_vars is not None:
                state = state | _targets(item.optional_vars)
        return _block(stmt.body, state, skip)
    if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
        return _try(stmt, state, skip)  # type: ignore[arg-type]
    if type(stmt).__name__ == "Match":
        return _match(stmt, state, skip)
    if isinstance(stmt, ast.Delete):
        gone = {n for t in stmt.targets for n in _targets(t)}
        return state - gone
    return state | _binds(stmt)


def _loop(stmt: ast.For | ast.AsyncFor | ast.While, state: Bound, skip: set[int]) -> Bound:
    """A loop may run no time, so it binds nothing for sure, unless it iterates a non-empty
    literal (`for i in range(3)`, `for x in [a, b]`) and never breaks or continues."""
    if isinstance(stmt, ast.While) or not _non_empty(stmt.iter):
        return state
    if any(isinstance(n, (ast.Break, ast.Continue)) for b in stmt.body for n in ast.walk(b)):
        return state
    body = _block(stmt.body, state | _targets(stmt.target), skip)
    return body if body is not None else state


def _non_empty(node: ast.expr) -> bool:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return bool(node.elts) and not any(isinstance(e, ast.Starred) for e in node.elts)
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, bytes)) and bool(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        if not args or node.keywords or not all(isinstance(a, int) for a in args):
            return False
        start, stop = (0, args[0]) if len(args) == 1 else (args[0], args[1])
        step = args[2] if len(args) == 3 else 1
        return step != 0 and (stop - start) * step > 0
    return False


def _try(stmt: ast.Try, state: Bound, skip: set[int]) -> Bound | None:
    """The body may stop at any statement: a handler starts from what held before the try."""
    body = _block(stmt.body, state, skip)
    done = _block(stmt.orelse, body, skip) if body is not None else None
    handlers = []
    for h in stmt.handlers:
        entry = state | ({h.name} if h.name else set())
        after = _block(h.body, entry, skip)
        handlers.append(after - {h.name} if after is not None and h.name else after)
    merged = _join([done, *handlers]) if stmt.handlers else done
    if stmt.finalbody:
        final = _block(stmt.finalbody, state, skip)
        if final is None:
            return None
        return merged | final if merged is not None else None
    return merged


def _match(stmt: ast.stmt, state: Bound, skip: set[int]) -> Bound | None:
    cases = getattr(stmt, "cases", [])
    states = [_block(c.body, state, skip) for c in cases]
    irrefutable = any(
        type(c.pattern).__name__ == "MatchAs" and c.pattern.pattern is None and c.guard is None
        for c in cases
    )
    return _join(states) if irrefutable else state


def _always(test: ast.expr) -> bool:
    """`if True:` and `if __name__ == "__main__":` (true in a notebook) always run."""
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        sides = {ast.unparse(test.left), ast.unparse(test.comparators[0])}
        return "__name__" in sides and bool(sides & {"'__main__'", '"__main__"'})
    return False


def _targets(node: ast.AST) -> Bound:
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


def _binds(stmt: ast.stmt) -> Bound:
    """Names a simple statement (or a def/class) binds when it completes."""
    if isinstance(stmt, ast.Assign):
        return frozenset(n.id for t in stmt.targets for n in target_names(t))
    if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        has_value = not isinstance(stmt, ast.AnnAssign) or stmt.value is not None
        return frozenset(n.id for n in target_names(stmt.target)) if has_value else frozenset()
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return frozenset(a.asname or a.name.split(".")[0] for a in stmt.names if a.name != "*")
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return frozenset({stmt.name})
    return frozenset()


def assigned_names(stmts: list[ast.stmt]) -> set[str]:
    """Names the statements bind by assignment (any path; not imports, and not inside the
    functions, classes, lambdas and comprehensions they define)."""
    out: set[str] = set()
    stack: list[ast.AST] = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return out
