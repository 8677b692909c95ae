"""Production blockers (NB2xx) and secrets (NB3xx): what breaks or leaks outside Jupyter."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..dataflow import CellFlow, Flow, is_ipython_global
from ..findings import CellRef
from ..ipython import SESSION_MAGICS, Occurrence
from ..redact import MARKER, excerpt, find_secrets, is_secret_name
from .messages import Message
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


EFFECTS = {  # NB201: what a piece of IPython syntax does, by `IPythonSyntax.effect`
    "install": "installs packages at run time; declare them as requirements",
    "fetch": "fetches data at run time; make it an explicit data step",
    "shell": "runs a shell command; use subprocess or a real script step",
    "run": "runs another file whose names analysis cannot see",
    "load": "pastes another file's code at run time",
    "cd": "changes the working directory of the process",
    "env": "sets environment variables; a service gets them from its deployment",
    "store": "keeps values between kernel sessions, outside the code",
    "writefile": "writes a file at run time; ship the file instead",
    "script": "runs a shell script",
    "interpreter": "runs a script in another interpreter",
    "system": "runs a shell command",
    "sql": "runs SQL through an IPython extension",
    "pylab": "star-imports numpy and matplotlib",
    "ipython": "is IPython syntax that plain Python cannot run",
}


class IPythonSyntax(
    Message, code="NB201", rule="ipython-syntax", kind="production", severity="warning"
):
    """IPython magics and shell commands headed for production (`!pip install`, `%run`, `%%bash`, …);
    session-only magics such as `%matplotlib` are not reported

    ## What it does
    Reports IPython magics and shell commands in code headed for production (`!pip install`,
    `%run`, `%%bash`, …); session-only magics such as `%matplotlib` are not reported.

    ## Why it matters
    Plain Python cannot run them: a script or service needs a requirement, a subprocess call or
    a function instead.

    ## Example
    ```python
    # %%
    !pip install pandas
    %run helpers.py
    ```

    ## Instead
    Declare dependencies in requirements, import modules instead of `%run`, and call
    `subprocess.run` for real shell work (`nb2svc convert` does these rewrites).
    """

    template = "`{syntax}` {why}"
    syntax: str  # as written (shortened)
    magic: str  # the magic's name, or "shell" for a `!` line
    effect: str  # a key of EFFECTS

    @property
    def why(self) -> str:
        return EFFECTS[self.effect]


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


NOTEBOOK_CALLS = {  # NB202: why a call exists only in a notebook
    "get_ipython": "exists only inside IPython",
    "display": "exists only inside IPython; log or return the value instead",
    "input": "waits for a person at a keyboard; a job or service has none",
}


class NotebookGlobal(
    Message, code="NB202", rule="notebook-global", kind="production", severity="warning"
):
    """notebook-only globals: `In`, `Out`, `_`, `_3`, `get_ipython()`, `display()`, `input()`

    ## What it does
    Reports notebook-only globals: `In`, `Out`, `_`, `_3`, `get_ipython()`, `display()`,
    `input()`.

    ## Why it matters
    They exist only in an interactive IPython session; outside it they are undefined or block
    waiting for input.

    ## Example
    ```python
    # %%
    result = _ * 2
    name = input()
    ```

    ## Instead
    Bind the value to a name (`result = value * 2`), and read input from parameters.
    """

    template = "`{shown}` {why}"
    name: str
    called: bool  # `get_ipython()`, `display()`, `input()`; else a history name (`_`, `Out`)

    @property
    def shown(self) -> str:
        return f"{self.name}()" if self.called else self.name

    @property
    def why(self) -> str:
        if self.called:
            return NOTEBOOK_CALLS[self.name]
        return "is IPython's output/input history; it does not exist outside the notebook"


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


PATH_FORMS = {
    "absolute": "an absolute path",
    "windows-drive": "a Windows drive path",
    "windows-network": "a Windows network path",
    "home": "a home-directory path",
}


class AbsolutePath(
    Message, code="NB203", rule="absolute-path", kind="production", severity="warning"
):
    """absolute or home-directory paths in string literals, judged by their form

    ## What it does
    Reports absolute or home-directory paths in string literals, judged by their form.

    ## Why it matters
    They only exist on the author's machine; a container or a colleague's checkout fails.

    ## Example
    ```python
    # %%
    df = pd.read_csv('/Users/ana/data/train.csv')
    ```

    ## Instead
    Use a path relative to the notebook or a parameter (`nb2svc convert` makes data reads
    SageMaker channels).
    """

    template = (
        "{form_text} {path!r} only exists on one machine; pass it as a parameter or make it "
        "relative to the project"
    )
    form: str  # a key of PATH_FORMS
    path: str  # shortened

    @property
    def form_text(self) -> str:
        return PATH_FORMS[self.form]


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


RANDOMNESS = {  # NB204: why a call's randomness is unseeded, by `UnseededRandomness.problem`
    "no-seed": "`{call}()` without a seed",
    "numpy-global": "`{call}()` uses numpy's global generator, which was never seeded",
    "random-module": "`{call}()` uses the `random` module, which was never seeded",
    "torch": "`{call}()` without `torch.manual_seed`",
    "no-random-state": "`{call}(…)` has no `random_state`",
    "no-random-seed": "`{call}(…)` has no `random_seed`",
}


class UnseededRandomness(
    Message, code="NB204", rule="unseeded-randomness", kind="production", severity="warning"
):
    """randomness without a seed (numpy, `random`, torch, TensorFlow, scikit-learn `random_state`)

    ## What it does
    Reports randomness without a seed (numpy, `random`, torch, TensorFlow, scikit-learn
    `random_state`).

    ## Why it matters
    Every run gives other numbers: results cannot be reproduced and `nb2svc verify` cannot
    compare outputs.

    ## Example
    ```python
    # %%
    import numpy as np
    x = np.random.rand(3)
    ```

    ## Instead
    Seed once (`rng = np.random.default_rng(0)`) or pass `random_state=0`.
    """

    template = "{why}; results change from run to run"
    call: str
    problem: str  # a key of RANDOMNESS

    @property
    def why(self) -> str:
        return RANDOMNESS[self.problem].format(call=self.call)


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
class StarImport(Message, code="NB205", rule="star-import", kind="production", severity="warning"):
    """star imports nb2svc cannot follow: a library's (a local module's are read statically)

    ## What it does
    Reports star imports that nb2svc cannot follow: a library's, or a local module it cannot
    read. A local module's (`preamble.py` next to the notebook, or a file an earlier cell writes
    with `%%writefile`) is read statically and its names are known.

    ## Why it matters
    They hide where names come from and switch off undefined-name checks (NB103/NB104).

    ## Example
    ```python
    # %%
    from math import *
    print(sqrt(2))
    ```

    ## Instead
    Import the names you use (`from math import sqrt`).
    """

    template = (
        "`from {module} import *` hides where names come from; undefined-name checks are off "
        "for this notebook"
    )
    module: str


@check("NB205")
def star_imports(ctx: Context) -> None:
    for f in ctx.flow.cells:
        for module, line, col in f.star_imports:
            ctx.report(f.cell, line, col + 1, StarImport(module=module))


# -- NB206 ------------------------------------------------------------------------------
class StoredError(
    Message, code="NB206", rule="stored-error", kind="production", severity="warning"
):
    """the notebook was saved with an error output

    ## What it does
    Reports a notebook saved with an error output.

    ## Why it matters
    A reader cannot tell whether the error is expected; the notebook does not run top-down as
    saved.

    ## Example
    ```python
    # %% (saved with a ZeroDivisionError traceback)
    1 / 0
    ```

    ## Instead
    Fix the cell and re-run, or clear the output if the error is intended and explained.
    """

    template = "{cell.label} was saved with an error output ({error})"
    cell: CellRef
    ename: str
    evalue: str

    @property
    def error(self) -> str:
        return f"{self.ename}: {self.evalue}" if self.evalue else self.ename


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


class HardCodedSecret(
    Message, code="NB301", rule="hard-coded-secret", kind="security", severity="error"
):
    """hard-coded secrets (AWS keys, tokens, passwords) in code, shell lines or outputs — shown
    redacted, never copied

    ## What it does
    Reports hard-coded secrets (AWS keys, tokens, passwords) in code, shell lines or outputs;
    they are shown redacted, never copied.

    ## Why it matters
    A notebook is shared, committed and rendered: a secret in it is leaked.

    ## Example
    ```python
    # %%
    token = 'ghp_4fQm2Lx9Tz7Wb1Kc8Vn3Ry6Hd5Js0Pa2Ge9M'  # a (made-up) GitHub token
    ```

    ## Instead
    Read secrets from the environment or a secrets manager, rotate the leaked one, and clear
    outputs that printed it.
    """

    template = "{found}; {advice}"
    secret: str | None  # what kind ("a GitHub token"); None for a literal bound to `target`
    target: str | None  # the name or attribute a secret-looking literal is bound to
    output_of: CellRef | None  # the cell whose saved output shows it

    @property
    def found(self) -> str:
        if self.output_of is not None:
            return f"an output of {self.output_of.label} shows {self.secret}"
        if self.target is not None:
            return f"a hard-coded secret in `{self.target}` ({MARKER})"
        return f"{self.secret} ({MARKER})"

    @property
    def advice(self) -> str:
        if self.output_of is not None:
            return "clear the output and rotate the secret"
        return "read it from the environment or a secret store"


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
class BillableWithoutCleanup(
    Message, code="NB207", rule="billable-without-cleanup", kind="production", severity="warning"
):
    """a cell creates a SageMaker resource that bills until deleted (an endpoint) and no cell deletes
    it

    ## What it does
    Reports a cell that creates a SageMaker resource billed until it is deleted (an endpoint
    from `.deploy()` or `create_endpoint`) when no cell of the notebook deletes it.

    ## Why it matters
    An endpoint keeps its instances running, and billing, after the notebook is closed; a
    converted notebook must not create one as a side effect.

    ## Example
    ```python
    # %% In[1]
    from sagemaker.sklearn import SKLearn
    est = SKLearn(entry_point='train.py', framework_version='1.2-1')
    est.fit({'train': 's3://bucket/train'})
    # %% In[2]
    predictor = est.deploy(initial_instance_count=1, instance_type='ml.m5.large')
    ```

    ## Instead
    End the notebook with a cleanup cell (`predictor.delete_endpoint()`), and deploy with the
    generated `deploy.py` (`deploy.py delete` removes what it created).
    """

    template = (
        "`{call}(...)` creates a SageMaker {creates}, billed until it is deleted, and no cell "
        "deletes it (e.g. `predictor.delete_endpoint()` or "
        "`sm.delete_endpoint(EndpointName=...)`)"
    )
    call: str
    creates: str


@check("NB207")
def billable_without_cleanup(ctx: Context) -> None:
    from ..sagemaker.orchestration import control_calls, uncleaned

    by_index = {f.cell.index: f.cell for f in ctx.flow.cells}
    for c in uncleaned(control_calls(ctx.flow)):
        message = BillableWithoutCleanup(call=c.call, creates=c.creates)
        ctx.report(by_index[c.cell], c.line, c.col + 1, message)
