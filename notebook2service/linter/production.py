"""Production blockers (NB2xx) and secrets (NB3xx): what breaks or leaks outside Jupyter."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..dataflow import CellFlow, Flow, is_ipython_global
from ..findings import CellRef
from ..ipython import SESSION_MAGICS, Occurrence
from ..redact import excerpt, find_secrets, is_secret_name
from .messages import (
    NOTEBOOK_CALLS,
    AbsolutePath,
    BillableWithoutCleanup,
    HardCodedSecret,
    IPythonSyntax,
    Message,
    NotebookGlobal,
    StarImport,
    StoredError,
    UnseededRandomness,
)
from .rules import Context, check

# -- NB201 ------------------------------------------------------------------------------
_MAGIC_EFFECT = {  # a magic's effect: a key of messages.EFFECTS
    "pip": "install",
    "conda": "install",
    "run": "run",
    "load": "load",
    "cd": "cd",
    "env": "env",
    "set_env": "env",
    "store": "store",
    "writefile": "writefile",
    "bash": "script",
    "sh": "script",
    "script": "interpreter",
    "system": "system",
    "sx": "system",
    "sql": "sql",
    "pylab": "pylab",
}
_FETCHERS = frozenset({"wget", "curl", "gsutil", "aws", "azcopy", "kaggle", "git"})


def _syntax_message(occ: Occurrence) -> IPythonSyntax:
    if occ.kind != "shell":
        effect = _MAGIC_EFFECT.get(occ.name, "ipython")
        return IPythonSyntax(syntax=occ.display, magic=occ.name, effect=effect)
    words = occ.args.split()
    from ..requirements import installs_packages  # packaging: loaded only for `!` lines

    if installs_packages(occ.args):
        effect = "install"
    elif words and words[0] in _FETCHERS:
        effect = "fetch"
    else:
        effect = "shell"
    return IPythonSyntax(syntax="!" + excerpt(occ.args, 41), magic="shell", effect=effect)


@check("NB201")
def ipython_syntax(ctx: Context) -> None:
    for f in ctx.flow.cells:
        for occ in f.translation.occurrences:
            if occ.kind == "help" or (occ.kind != "shell" and occ.name in SESSION_MAGICS):
                continue
            end = occ.end_line if occ.kind == "cell_magic" else None
            message = _syntax_message(occ)
            ctx.report(f.cell, occ.line, occ.column + 1, message, end_line=end)


# -- NB202 ------------------------------------------------------------------------------


@check("NB202")
def notebook_globals(ctx: Context) -> None:
    flow: Flow = ctx.flow
    user_defined = {n for f in flow.cells for n in flow.defs_of(f)}
    for f in flow.cells:
        seen: set[tuple[str, int]] = set()
        for call in f.calls:
            if call.func in NOTEBOOK_CALLS and call.func not in user_defined:
                seen.add((call.func, call.line))
                ctx.report(
                    f.cell, call.line, call.col + 1, NotebookGlobal(name=call.func, called=True)
                )
        for use in f.uses:
            name = use.name
            if use.via or name in user_defined or not is_ipython_global(name):
                continue
            if (name, use.line) in seen or name in NOTEBOOK_CALLS:
                continue
            seen.add((name, use.line))
            ctx.report(f.cell, use.line, use.col + 1, NotebookGlobal(name=name, called=False))


# -- NB203 ------------------------------------------------------------------------------
_ROOTS = (
    "home|Users|root|mnt|media|data|datasets|workspace|workspaces|content|kaggle|dbfs|Volumes|"
    "scratch|gpfs|lustre|srv|nfs|net|share|shared|projects|storage|work|export|private|"
    "opt(?!/ml(?:/|$))|usr/local/(?!bin|lib)"
)
_PATH_PATTERNS = [
    (re.compile(rf"^/(?:{_ROOTS})(?:/|$)"), "absolute"),
    (re.compile(r"^/[\w.-]+(?:/[\w. -]+)+\.[A-Za-z][\w]{0,7}$"), "absolute"),
    (re.compile(r"^[A-Za-z]:[\\/]"), "windows-drive"),
    (re.compile(r"^\\\\[\w.$-]+\\"), "windows-network"),
    (re.compile(r"^~(?:[/\\]|$)|^~\w+/"), "home"),
    (re.compile(r"^\$(?:HOME|\{HOME\})(?:/|$)|^%USERPROFILE%"), "home"),
]  # (pattern, form): a key of messages.PATH_FORMS
_NOT_PATHS = re.compile(r"^/(?:dev|proc|sys|tmp)(?:/|$)")


def path_form(value: str) -> str | None:
    """The form of a machine-specific path ("absolute", "home", …), or None."""
    if not value or value[0] not in "/~\\$%" and value[1:2] != ":":
        return None
    if len(value) > 260 or "\n" in value or value.count(" ") > 4:
        return None
    if _NOT_PATHS.match(value):
        return None
    for pattern, kind in _PATH_PATTERNS:
        if pattern.search(value):
            return kind
    return None


@check("NB203")
def absolute_paths(ctx: Context) -> None:
    for f in ctx.flow.cells:
        for s in f.strings:
            if s.docstring or s.continuation:
                continue
            form = path_form(s.value)
            if form:
                message = AbsolutePath(form=form, path=excerpt(s.value, 58))
                ctx.report(f.cell, s.line, s.col + 1, message)


# -- NB204 ------------------------------------------------------------------------------
_NP_GLOBAL = frozenset(
    "rand randn randint random random_sample ranf sample choice shuffle permutation normal "
    "uniform binomial poisson beta gamma exponential multivariate_normal standard_normal "
    "lognormal laplace logistic geometric dirichlet multinomial".split()
)
_PY_RANDOM = frozenset(
    "random randint choice choices shuffle sample uniform gauss randrange normalvariate "
    "triangular betavariate expovariate getrandbits".split()
)
_TORCH = frozenset(
    "rand randn randint randperm rand_like randn_like randint_like normal bernoulli multinomial".split()
)
_SKLEARN_RANDOM = frozenset(
    """train_test_split ShuffleSplit StratifiedShuffleSplit GroupShuffleSplit
    RandomForestClassifier RandomForestRegressor ExtraTreesClassifier ExtraTreesRegressor
    GradientBoostingClassifier GradientBoostingRegressor HistGradientBoostingClassifier
    HistGradientBoostingRegressor DecisionTreeClassifier DecisionTreeRegressor IsolationForest
    BaggingClassifier BaggingRegressor AdaBoostClassifier AdaBoostRegressor SGDClassifier
    SGDRegressor Perceptron PassiveAggressiveClassifier MLPClassifier MLPRegressor KMeans
    MiniBatchKMeans BisectingKMeans GaussianMixture BayesianGaussianMixture TSNE
    SpectralClustering SpectralEmbedding TruncatedSVD NMF LatentDirichletAllocation FastICA
    RandomizedSearchCV RandomTreesEmbedding resample shuffle make_classification
    make_regression make_blobs make_moons make_circles permutation_importance
    XGBClassifier XGBRegressor LGBMClassifier LGBMRegressor""".split()
)
_SHUFFLE_KW = frozenset({"KFold", "StratifiedKFold", "GroupKFold"})
_SEEDERS = {
    "numpy.random.seed": {"numpy", "sklearn"},
    "random.seed": {"random"},
    "torch.manual_seed": {"torch"},
    "tensorflow.random.set_seed": {"tensorflow"},
    "tensorflow.set_random_seed": {"tensorflow"},
    "keras.utils.set_random_seed": {"tensorflow", "numpy", "random", "sklearn"},
    "tensorflow.keras.utils.set_random_seed": {"tensorflow", "numpy", "random", "sklearn"},
}
_ALL_SEED = frozenset({"seed_everything", "set_seed", "set_random_seed", "set_seeds", "fix_seed"})


def qualify(flow: Flow, f: CellFlow, dotted: str) -> str:
    head, _, rest = dotted.partition(".")
    base = f.imports.get(head) or flow.imports.get(head)
    if base is None:
        return dotted
    return f"{base}.{rest}" if rest else base


def _constant_true(node: object) -> bool:
    return getattr(node, "value", None) is True


@check("NB204")
def unseeded_randomness(ctx: Context) -> None:
    flow: Flow = ctx.flow
    seeded: set[str] = set()
    for f in flow.cells:
        reported: set[str] = set()
        for call in sorted(f.calls, key=lambda c: (c.line, c.col)):
            q = qualify(flow, f, call.func)
            last = q.rsplit(".", 1)[-1]
            if q in _SEEDERS:
                seeded |= _SEEDERS[q]
                continue
            if last in _ALL_SEED:
                seeded |= {"numpy", "random", "torch", "tensorflow", "sklearn"}
                continue
            why = None
            if q.startswith("numpy.random."):
                if (
                    last in ("default_rng", "RandomState", "Generator")
                    and not call.nargs
                    and not call.keywords
                ):
                    why = "no-seed"
                elif last in _NP_GLOBAL and "numpy" not in seeded:
                    why = "numpy-global"
            elif q.startswith("random.") and q.count(".") == 1 and last in _PY_RANDOM:
                if "random" not in seeded:
                    why = "random-module"
            elif q.startswith("torch.") and last in _TORCH and "torch" not in seeded:
                if "generator" not in call.keywords:
                    why = "torch"
            elif (
                q.startswith("tensorflow.random.")
                and "tensorflow" not in seeded
                and "seed" not in call.keywords
            ):
                why = "no-seed"
            elif q.split(".")[0] in ("sklearn", "xgboost", "lightgbm", "imblearn"):
                kw = call.keywords
                if last in _SKLEARN_RANDOM or (
                    last in _SHUFFLE_KW and _constant_true(kw.get("shuffle"))
                ):
                    if "random_state" not in kw and "seed" not in kw and "sklearn" not in seeded:
                        why = "no-random-state"
            elif q.split(".")[0] == "catboost" and last.startswith("CatBoost"):
                if not {"random_seed", "random_state"} & set(call.keywords):
                    why = "no-random-seed"
            if why and q not in reported:
                reported.add(q)
                message = UnseededRandomness(call=call.func, problem=why)
                ctx.report(f.cell, call.line, call.col + 1, message)


# -- NB205 ------------------------------------------------------------------------------
@check("NB205")
def star_imports(ctx: Context) -> None:
    for f in ctx.flow.cells:
        for module, line, col in f.star_imports:
            ctx.report(f.cell, line, col + 1, StarImport(module=module))


# -- NB206 ------------------------------------------------------------------------------
@check("NB206")
def stored_errors(ctx: Context) -> None:
    for cell in ctx.notebook.code_cells:
        for out in cell.outputs:
            if isinstance(out, dict) and out.get("output_type") == "error":
                message = StoredError(
                    cell=CellRef.of(cell),
                    ename=str(out.get("ename", "Error"))[:60],
                    evalue=excerpt(" ".join(str(out.get("evalue", "")).split()), 78),
                )
                ctx.report(cell, 1, 1, message)
                break


# -- NB301 ------------------------------------------------------------------------------
# the detectors live in `redact.py`, shared with the redaction of every message and file
def _line_col(text: str, pos: int) -> tuple[int, int]:
    return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1)


def _named_literals(f: CellFlow, done: set[int]) -> Iterator[tuple[int, int, Message]]:
    """(line, col, message) for a string literal bound to a secret-like name (`cfg.pwd = "..."`)."""
    for s in f.strings:
        value = s.value.strip()
        if s.line in done or not is_secret_name(s.context) or len(value) < 4 or " " in value:
            continue
        if find_secrets(f"{s.context} = {value!r}"):
            yield s.line, s.col, HardCodedSecret(secret=None, target=s.context, output_of=None)


@check("NB301")
def secrets(ctx: Context) -> None:
    for f in ctx.flow.cells:
        done: set[int] = set()
        source = f.cell.source
        for hit in find_secrets(source)[:50]:
            line, col = _line_col(source, hit.start)
            if line not in done:
                done.add(line)
                ctx.report(
                    f.cell,
                    line,
                    col + 1,
                    HardCodedSecret(secret=hit.kind, target=None, output_of=None),
                )
        for line, col, message in _named_literals(f, done):
            done.add(line)
            ctx.report(f.cell, line, col + 1, message)
    for cell in ctx.notebook.code_cells:
        for out in cell.outputs:
            text = _output_text(out)
            if text and (hits := find_secrets(text)):
                message = HardCodedSecret(
                    secret=hits[0].kind, target=None, output_of=CellRef.of(cell)
                )
                ctx.report(cell, 1, 1, message)
                break


def _output_text(out: object, limit: int = 2_000_000) -> str:
    if not isinstance(out, dict):
        return ""
    parts = []
    text = out.get("text")
    if text is not None:
        parts.append(text)
    data = out.get("data")
    if isinstance(data, dict):
        plain = data.get("text/plain")
        if plain is not None:
            parts.append(plain)
    flat = []
    for p in parts:
        flat.append("".join(x for x in p if isinstance(x, str)) if isinstance(p, list) else str(p))
    return "\n".join(flat)[:limit]


# -- NB207 ------------------------------------------------------------------------------
@check("NB207")
def billable_without_cleanup(ctx: Context) -> None:
    from ..sagemaker.orchestration import control_calls, uncleaned

    by_index = {f.cell.index: f.cell for f in ctx.flow.cells}
    for c in uncleaned(control_calls(ctx.flow)):
        message = BillableWithoutCleanup(call=c.call, creates=c.creates)
        ctx.report(by_index[c.cell], c.line, c.col + 1, message)
