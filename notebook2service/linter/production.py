"""Production blockers (NB2xx) and secrets (NB3xx): what breaks or leaks outside Jupyter."""

from __future__ import annotations

import re

from ..dataflow import CellFlow, Flow, is_ipython_global
from ..ipython import SESSION_MAGICS
from ..redact import MARKER, excerpt, find_secrets, is_secret_name
from .rules import Context, check

# -- NB201 ------------------------------------------------------------------------------
_MAGIC_WHY = {
    "pip": "installs packages at run time; declare them as requirements",
    "conda": "installs packages at run time; declare them as requirements",
    "run": "runs another file whose names analysis cannot see",
    "load": "pastes another file's code at run time",
    "cd": "changes the working directory of the process",
    "env": "sets environment variables; a service gets them from its deployment",
    "set_env": "sets environment variables; a service gets them from its deployment",
    "store": "keeps values between kernel sessions, outside the code",
    "writefile": "writes a file at run time; ship the file instead",
    "bash": "runs a shell script",
    "sh": "runs a shell script",
    "script": "runs a script in another interpreter",
    "system": "runs a shell command",
    "sx": "runs a shell command",
    "sql": "runs SQL through an IPython extension",
    "pylab": "star-imports numpy and matplotlib",
}


_INSTALL = re.compile(r"\b(?:pip3?|conda|mamba|uv\s+pip)\s+install\b")


@check("NB201")
def ipython_syntax(ctx: Context) -> None:
    for f in ctx.flow.cells:
        for occ in f.translation.occurrences:
            if occ.kind == "help" or (occ.kind != "shell" and occ.name in SESSION_MAGICS):
                continue
            if occ.kind == "shell":
                first = occ.args.split()[0] if occ.args.split() else ""
                if _INSTALL.search(occ.args):
                    why = "installs packages at run time; declare them as requirements"
                elif first in ("wget", "curl", "gsutil", "aws", "azcopy", "kaggle", "git"):
                    why = "fetches data at run time; make it an explicit data step"
                else:
                    why = "runs a shell command; use subprocess or a real script step"
                what = "`!" + excerpt(occ.args, 41) + "`"
            else:
                why = _MAGIC_WHY.get(occ.name, "is IPython syntax that plain Python cannot run")
                what = f"`{occ.display}`"
            end = occ.end_line if occ.kind == "cell_magic" else None
            ctx.report("NB201", f.cell, occ.line, occ.column + 1, f"{what} {why}", end_line=end)


# -- NB202 ------------------------------------------------------------------------------
_CALL_GLOBALS = {
    "get_ipython": "`get_ipython()` exists only inside IPython",
    "display": "`display()` exists only inside IPython; log or return the value instead",
    "input": "`input()` waits for a person at a keyboard; a job or service has none",
}


@check("NB202")
def notebook_globals(ctx: Context) -> None:
    flow: Flow = ctx.flow
    user_defined = {n for f in flow.cells for n in flow.defs_of(f)}
    for f in flow.cells:
        seen: set[tuple[str, int]] = set()
        for call in f.calls:
            if call.func in _CALL_GLOBALS and call.func not in user_defined:
                seen.add((call.func, call.line))
                ctx.report("NB202", f.cell, call.line, call.col + 1, _CALL_GLOBALS[call.func])
        for use in f.uses:
            name = use.name
            if use.via or name in user_defined or not is_ipython_global(name):
                continue
            if (name, use.line) in seen or name in _CALL_GLOBALS:
                continue
            seen.add((name, use.line))
            ctx.report(
                "NB202",
                f.cell,
                use.line,
                use.col + 1,
                f"`{name}` is IPython's output/input history; it does not exist outside the notebook",
            )


# -- NB203 ------------------------------------------------------------------------------
_ROOTS = (
    "home|Users|root|mnt|media|data|datasets|workspace|workspaces|content|kaggle|dbfs|Volumes|"
    "scratch|gpfs|lustre|srv|nfs|net|share|shared|projects|storage|work|export|private|"
    "opt(?!/ml(?:/|$))|usr/local/(?!bin|lib)"
)
_PATH_PATTERNS = [
    (re.compile(rf"^/(?:{_ROOTS})(?:/|$)"), "an absolute path"),
    (re.compile(r"^/[\w.-]+(?:/[\w. -]+)+\.[A-Za-z][\w]{0,7}$"), "an absolute path"),
    (re.compile(r"^[A-Za-z]:[\\/]"), "a Windows drive path"),
    (re.compile(r"^\\\\[\w.$-]+\\"), "a Windows network path"),
    (re.compile(r"^~(?:[/\\]|$)|^~\w+/"), "a home-directory path"),
    (re.compile(r"^\$(?:HOME|\{HOME\})(?:/|$)|^%USERPROFILE%"), "a home-directory path"),
]
_NOT_PATHS = re.compile(r"^/(?:dev|proc|sys|tmp)(?:/|$)")


def path_kind(value: str) -> str | None:
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
            kind = path_kind(s.value)
            if kind:
                shown = excerpt(s.value, 58)
                ctx.report(
                    "NB203",
                    f.cell,
                    s.line,
                    s.col + 1,
                    f"{kind} {shown!r} only exists on one machine; pass it as a parameter or make "
                    "it relative to the project",
                )


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
                    why = f"`{call.func}()` without a seed"
                elif last in _NP_GLOBAL and "numpy" not in seeded:
                    why = f"`{call.func}()` uses numpy's global generator, which was never seeded"
            elif q.startswith("random.") and q.count(".") == 1 and last in _PY_RANDOM:
                if "random" not in seeded:
                    why = f"`{call.func}()` uses the `random` module, which was never seeded"
            elif q.startswith("torch.") and last in _TORCH and "torch" not in seeded:
                if "generator" not in call.keywords:
                    why = f"`{call.func}()` without `torch.manual_seed`"
            elif (
                q.startswith("tensorflow.random.")
                and "tensorflow" not in seeded
                and "seed" not in call.keywords
            ):
                why = f"`{call.func}()` without a seed"
            elif q.split(".")[0] in ("sklearn", "xgboost", "lightgbm", "imblearn"):
                kw = call.keywords
                if last in _SKLEARN_RANDOM or (
                    last in _SHUFFLE_KW and _constant_true(kw.get("shuffle"))
                ):
                    if "random_state" not in kw and "seed" not in kw and "sklearn" not in seeded:
                        why = f"`{call.func}(…)` has no `random_state`"
            elif q.split(".")[0] == "catboost" and last.startswith("CatBoost"):
                if not {"random_seed", "random_state"} & set(call.keywords):
                    why = f"`{call.func}(…)` has no `random_seed`"
            if why and q not in reported:
                reported.add(q)
                ctx.report(
                    "NB204",
                    f.cell,
                    call.line,
                    call.col + 1,
                    f"{why}; results change from run to run",
                )


# -- NB205 ------------------------------------------------------------------------------
@check("NB205")
def star_imports(ctx: Context) -> None:
    for f in ctx.flow.cells:
        for module, line, col in f.star_imports:
            ctx.report(
                "NB205",
                f.cell,
                line,
                col + 1,
                f"`from {module} import *` hides where names come from; undefined-name checks "
                "are off for this notebook",
            )


# -- NB206 ------------------------------------------------------------------------------
@check("NB206")
def stored_errors(ctx: Context) -> None:
    for cell in ctx.notebook.code_cells:
        for out in cell.outputs:
            if isinstance(out, dict) and out.get("output_type") == "error":
                ename = str(out.get("ename", "Error"))[:60]
                evalue = " ".join(str(out.get("evalue", "")).split())
                evalue = excerpt(evalue, 78)
                ctx.report(
                    "NB206",
                    cell,
                    1,
                    1,
                    f"{cell.label()} was saved with an error output ({ename}: {evalue})".replace(
                        ": )", ")"
                    ),
                )
                break


# -- NB301 ------------------------------------------------------------------------------
# the detectors live in `redact.py`, shared with the redaction of every message and file
_FIXED = "; read it from the environment or a secret store"


def _line_col(text: str, pos: int) -> tuple[int, int]:
    return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1)


def _named_literals(f: CellFlow, done: set[int]):
    """(line, col, what) for a string literal bound to a secret-like name (`cfg.pwd = "..."`)."""
    for s in f.strings:
        value = s.value.strip()
        if s.line in done or not is_secret_name(s.context) or len(value) < 4 or " " in value:
            continue
        if find_secrets(f"{s.context} = {value!r}"):
            yield s.line, s.col, f"a hard-coded secret in `{s.context}`"


@check("NB301")
def secrets(ctx: Context) -> None:
    for f in ctx.flow.cells:
        done: set[int] = set()
        source = f.cell.source
        for hit in find_secrets(source)[:50]:
            line, col = _line_col(source, hit.start)
            if line not in done:
                done.add(line)
                ctx.report("NB301", f.cell, line, col + 1, f"{hit.kind} ({MARKER}){_FIXED}")
        for line, col, what in _named_literals(f, done):
            done.add(line)
            ctx.report("NB301", f.cell, line, col + 1, f"{what} ({MARKER}){_FIXED}")
    for cell in ctx.notebook.code_cells:
        for out in cell.outputs:
            text = _output_text(out)
            if text and (hits := find_secrets(text)):
                ctx.report(
                    "NB301",
                    cell,
                    1,
                    1,
                    f"an output of {cell.label()} shows {hits[0].kind}; clear the output and "
                    "rotate the secret",
                )
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
        message = (
            f"`{c.call}(...)` creates a SageMaker {c.creates}, billed until it is deleted, and "
            f"no cell deletes it (e.g. `predictor.delete_endpoint()` or "
            f"`sm.delete_endpoint(EndpointName=...)`)"
        )
        ctx.report("NB207", by_index[c.cell], c.line, c.col + 1, message)
