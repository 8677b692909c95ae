"""Production blockers (NB2xx) and secrets (NB3xx): what breaks or leaks outside Jupyter."""

from __future__ import annotations

import re

from ..dataflow import CellFlow, Flow, is_ipython_global
from ..ipython import SESSION_MAGICS
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
                what = "`!" + (occ.args[:40] + ("…" if len(occ.args) > 40 else "")) + "`"
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
            if s.docstring:
                continue
            kind = path_kind(s.value)
            if kind:
                shown = s.value if len(s.value) <= 60 else s.value[:57] + "…"
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
                evalue = evalue if len(evalue) <= 80 else evalue[:77] + "…"
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
_TOKEN_PATTERNS = [
    (
        re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
        "an AWS access key id",
    ),
    (
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}"),
        "a GitHub token",
    ),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), "a Google API key"),
    (re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{32,}"), "an API secret key"),
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), "a Hugging Face token"),
    (re.compile(r"\b[rs]k_live_[A-Za-z0-9]{20,}"), "a Stripe key"),
    (
        re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |PGP |ENCRYPTED )?PRIVATE KEY-----"),
        "a private key",
    ),
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
        "a JSON web token",
    ),
]
_AWS_SECRET = re.compile(r"^[A-Za-z0-9/+]{40}$")
_ENV_ASSIGN = re.compile(
    r"\b([A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_KEY)[A-Z0-9_]*)\s*=\s*['\"]?([^\s'\"$({<]{6,})"
)
_SHELL_MAGICS = frozenset({"env", "set_env", "bash", "sh", "script", "system", "sx"})
_PLACEHOLDER = re.compile(
    r"(?i)^(?:<.*>|\{.*\}|\$\{?\w+\}?|x+|\*+|\.+|-+|_+|0+|none|null|nan|true|false|todo|tbd|"
    r"changeme|redacted)$|^\[.*\]$|^my[-_ ]|your|here|placeholder|example|replace|dummy|xxxx|\{\{|"
    r"secret|passw|token|api.?key|access.?key"
)


def _secret_context(name: str | None) -> bool:
    if not name:
        return False
    n = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower().replace("-", "_")
    parts = n.split("_")
    if any(p in ("password", "passwd", "passphrase", "pwd") for p in parts):
        return True
    if parts[-1] in ("secret", "token", "apikey", "credential", "credentials"):
        return True
    return n.endswith(
        ("api_key", "access_key", "secret_key", "private_key", "auth_key", "secret_access_key")
    )


def redact(value: str) -> str:
    return (value[:4] + "…" + f" ({len(value)} characters)") if len(value) > 8 else "…"


#: literal pieces every match of the pattern contains: `in` on a large output is far
#: faster than a regex scan, so a pattern runs only where one of its pieces occurs
_TOKEN_MARKERS = [
    ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"),
    ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ("xox",),
    ("AIza",),
    ("sk-",),
    ("hf_",),
    ("k_live_",),
    ("PRIVATE KEY-----",),
    ("eyJ",),
]


_ANY_TOKEN = re.compile(
    "|".join(f"(?P<t{i}>{p.pattern})" for i, (p, _) in enumerate(_TOKEN_PATTERNS))
)


def _scan_tokens(text: str, limit: int = 50) -> list[tuple[int, int, str, str]]:
    """(line, col, what, redacted) for high-precision token patterns in free text."""
    found = []
    for (pattern, what), markers in zip(_TOKEN_PATTERNS, _TOKEN_MARKERS, strict=True):
        if not any(m in text for m in markers):
            continue
        pos, line = 0, 1
        for m in pattern.finditer(text):
            line += text.count("\n", pos, m.start())
            pos = m.start()
            col = m.start() - (text.rfind("\n", 0, m.start()) + 1)
            found.append((line, col, what, redact(m.group(0))))
            if len(found) >= limit:
                return found
    return found


@check("NB301")
def secrets(ctx: Context) -> None:
    fixed = "; read it from the environment or a secret store"
    for f in ctx.flow.cells:
        done: set[int] = set()
        for s in f.strings:
            value = s.value.strip()
            what = None
            m = _ANY_TOKEN.search(value)  # one pass over a short string
            if m:
                what = _TOKEN_PATTERNS[int(m.lastgroup[1:])][1]  # type: ignore[index]
                shown = redact(m.group(0))
            if what is None and _secret_context(s.context) and len(value) >= 4:
                if not _PLACEHOLDER.search(value) and " " not in value:
                    kind = (
                        "an AWS secret key" if _AWS_SECRET.match(value) else "a hard-coded secret"
                    )
                    what, shown = f"{kind} in `{s.context}`", redact(value)
            if what and s.line not in done:
                done.add(s.line)
                ctx.report("NB301", f.cell, s.line, s.col + 1, f"{what} ({shown}){fixed}")
        # comments, magics, shell lines and cells that do not parse: token patterns only
        for line, col, what, shown in _scan_tokens(f.cell.source):
            if line not in done:
                done.add(line)
                ctx.report("NB301", f.cell, line, col + 1, f"{what} ({shown}){fixed}")
        for occ in f.translation.occurrences:
            if occ.kind != "shell" and occ.name not in _SHELL_MAGICS:
                continue
            m = _ENV_ASSIGN.search(occ.args if occ.kind != "cell_magic" else (occ.body or ""))
            if m and not _PLACEHOLDER.search(m.group(2)) and occ.line not in done:
                done.add(occ.line)
                ctx.report(
                    "NB301",
                    f.cell,
                    occ.line,
                    occ.column + 1,
                    f"a secret in `{m.group(1)}` ({redact(m.group(2))}){fixed}",
                )
    for cell in ctx.notebook.code_cells:
        for out in cell.outputs:
            text = _output_text(out)
            if text and (hits := _scan_tokens(text)):
                _, _, what, shown = hits[0]
                ctx.report(
                    "NB301",
                    cell,
                    1,
                    1,
                    f"an output of {cell.label()} shows {what} ({shown}); clear the output and "
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
