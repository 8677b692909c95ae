"""Step names: what the step does, as a Python identifier, from its heading or its code.

A heading is read as plain words first (markdown links, images, HTML tags and anchors, code
spans, emphasis and numbering removed), then made verb-first where English allows it
(`Splitting the data` → `split_data`, `Model training` → `train_model`), cut at a word
boundary without a dangling preposition or article. Without a usable heading the name
comes from the step's main call (`read_csv` → `load_data`, `.fit` → `fit_model`).
Everything here is a pure function of the text and code: names are stable across runs.
"""

from __future__ import annotations

import ast
import html
import re

#: words that carry no meaning in a name
_FILLER = frozenset(
    "the a an our your my their its this that these those some we you i let lets let's "
    "here now then finally first next also just".split()
)
#: words that must not end a name (a cut name would dangle)
_DANGLING = (
    frozenset(
        "to for with in on of into from by via using and or at as over per than vs versus "
        "is are be".split()
    )
    | _FILLER
)
#: imperative verbs a heading may already start with (besides those `_VERBS` yields)
_IMPERATIVE = frozenset(
    "review show print read try see look view display describe understand find learn apply "
    "call start stop wait connect open specify choose provide use make define".split()
)
#: -ing forms and nouns → the verb (only words listed here are changed)
_VERBS = {
    "loading": "load",
    "reading": "read",
    "importing": "import",
    "downloading": "download",
    "splitting": "split",
    "training": "train",
    "fitting": "fit",
    "testing": "test",
    "evaluating": "evaluate",
    "evaluation": "evaluate",
    "predicting": "predict",
    "prediction": "predict",
    "predictions": "predict",
    "making": "make",
    "using": "use",
    "creating": "create",
    "creation": "create",
    "preparing": "prepare",
    "preparation": "prepare",
    "deploying": "deploy",
    "deployment": "deploy",
    "running": "run",
    "getting": "get",
    "setting": "set",
    "defining": "define",
    "definition": "define",
    "building": "build",
    "tuning": "tune",
    "plotting": "plot",
    "saving": "save",
    "cleaning": "clean",
    "scaling": "scale",
    "reviewing": "review",
    "visualizing": "visualize",
    "visualising": "visualise",
    "visualization": "visualize",
    "visualisation": "visualise",
    "exploring": "explore",
    "exploration": "explore",
    "comparing": "compare",
    "comparison": "compare",
    "computing": "compute",
    "computation": "compute",
    "calculating": "calculate",
    "calculation": "calculate",
    "configuring": "configure",
    "configuration": "configure",
    "installing": "install",
    "installation": "install",
    "initializing": "initialize",
    "initialization": "initialize",
    "writing": "write",
    "generating": "generate",
    "generation": "generate",
    "selecting": "select",
    "selection": "select",
    "serving": "serve",
    "registering": "register",
    "registration": "register",
    "uploading": "upload",
    "processing": "process",
    "preprocessing": "preprocess",
    "transforming": "transform",
    "encoding": "encode",
    "normalizing": "normalize",
    "normalization": "normalize",
    "inspecting": "inspect",
    "inspection": "inspect",
    "analyzing": "analyze",
    "analysing": "analyse",
    "checking": "check",
    "deleting": "delete",
    "deletion": "delete",
    "cleanup": "clean_up",
    "submitting": "submit",
    "invoking": "invoke",
    "monitoring": "monitor",
    "optimizing": "optimize",
    "optimization": "optimize",
    "sampling": "sample",
    "validating": "validate",
    "validation": "validate",
    "merging": "merge",
    "filtering": "filter",
    "grouping": "group",
    "sorting": "sort",
    "adding": "add",
    "removing": "remove",
    "exporting": "export",
    "storing": "store",
    "converting": "convert",
    "conversion": "convert",
    "extracting": "extract",
    "extraction": "extract",
}
_BASE_VERBS = frozenset(v for verb in _VERBS.values() for v in verb.split("_")[:1])
_MARKUP = [
    (re.compile(r"<!--.*?-->", re.S), " "),
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), " "),  # images
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),  # [text](url)
    (re.compile(r"\[([^\]]*)\]\[[^\]]*\]"), r"\1"),  # [text][ref]
    (re.compile(r"</?[A-Za-z][^>]*>"), " "),  # HTML tags, anchors included
    (re.compile(r"\{#[^}]*\}"), " "),  # {#anchor}
    (re.compile(r"https?://\S+"), " "),
    (re.compile(r"\(([^)]*)\)"), " "),  # parentheticals are asides
    (re.compile(r"(\*\*|__|\*|~~)"), " "),
]
_NUMBERING = re.compile(
    r"^\s*(?:(?:step|part|section|stage|phase|chapter|exercise|task|option)\s*)?"
    r"(?:(?:\d+|[ivx]+\b)(?:\.\d+)*(?:\.?[a-z]\b)?|\(?[a-h]\b(?=[.)]))[.):]*\s*[-:—–]?\s*",
    re.I,
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def plain_words(heading: str) -> list[str]:
    """The heading's words, lower case, without markup, numbering or filler."""
    text = html.unescape(heading)
    text = re.sub(r"`([^`]*)`", lambda m: " " + _CAMEL.sub(" ", m.group(1)) + " ", text)
    for pattern, repl in _MARKUP:
        text = pattern.sub(repl, text)
    text = _NUMBERING.sub("", text.strip())
    # `Using best parameters, make predictions`: the clause after the comma says what it does
    lead = re.match(
        r"\s*(?:using|with|for|after|before|once|now|then|in)\b[^,:]*[,:]\s*(.+)", text, re.I
    )
    if lead and re.search(r"[A-Za-z]", lead.group(1)):
        text = lead.group(1)
    text = re.split(r"\s[-—–]\s|[:;?!]", text, maxsplit=1)[0]  # a title's first clause
    tokens = re.findall(r"[a-z0-9]+", text.lower().replace("'", ""))
    words = [w for w in tokens if w[0].isalpha()]  # `3.1 8B`: numbers are no name
    words = [w for w in words if w not in _FILLER]
    while words and words[0] in _DANGLING:
        words.pop(0)
    return words


def verb_first(words: list[str]) -> list[str]:
    """`splitting x` → `split x`; `model training` → `train model` (listed words only)."""
    if not words:
        return words
    if words[0] in _VERBS:
        return _VERBS[words[0]].split("_") + words[1:]
    if words[0] in _IMPERATIVE or words[0] in _BASE_VERBS:
        return words
    for i, w in enumerate(words[1:3], start=1):  # `data loading`, `hyperparameter tuning`
        if w in _VERBS and all(x not in _DANGLING for x in words[:i]):
            return _VERBS[w].split("_") + words[:i] + words[i + 1 :]
    return words


def cut(words: list[str], limit: int = 4) -> list[str]:
    """At most `limit` meaningful words, cut at a word (and, when cutting, at a preposition)
    boundary, never ending on a preposition or article."""
    meaningful = [i for i, w in enumerate(words) if w not in _DANGLING]
    if len(meaningful) > limit:
        end = meaningful[limit - 1] + 1
        prep = next((i for i in range(2, end) if words[i] in _DANGLING), None)
        words = words[: prep if prep is not None else end]
    while words and words[-1] in _DANGLING:
        words = words[:-1]
    return words


def from_heading(heading: str, limit: int = 4) -> str:
    return "_".join(cut(verb_first(plain_words(heading)), limit))


#: call names (last part of the dotted name) → what a step doing them does
_LOAD = re.compile(
    r"^(?:read_\w+|load\w*|loadtxt|genfromtxt|fetch_\w+|open_dataset|"
    r"load_dataset|download\w*)$"
)
_FIT = frozenset({"fit", "partial_fit", "fit_generator", "train", "fit_predict"})
_SPLIT = frozenset({"train_test_split", "random_split", "split", "KFold", "StratifiedKFold"})
_PREPARE = frozenset(
    "fit_transform transform get_dummies dropna fillna drop replace astype map apply "
    "merge concat pivot_table melt reshape StandardScaler MinMaxScaler OneHotEncoder "
    "LabelEncoder SimpleImputer".split()
)
_EVALUATE = re.compile(
    r"^(?:predict\w*|score|evaluate|decision_function|\w+_score|\w+_error|"
    r"classification_report|confusion_matrix|cross_val\w*|roc_curve|auc)$"
)
_PLOT = frozenset(
    "plot scatter hist imshow show savefig barplot heatmap lineplot subplots figure bar "
    "boxplot pairplot countplot distplot histplot contour contourf pcolormesh".split()
)


def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    """(last part of the called name, call) in source order."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name:
                out.append((name, node))
    return sorted(out, key=lambda x: (x[1].lineno, x[1].col_offset))


def phase_of(tree: ast.AST | None) -> str:
    """What a cell mainly does: load, split, prepare, fit, evaluate, plot, or ''."""
    if tree is None:
        return ""
    names = [n for n, _ in _calls(tree)]
    for phase, test in (
        ("fit", lambda n: n in _FIT),
        ("load", lambda n: bool(_LOAD.match(n))),
        ("split", lambda n: n in _SPLIT),
        ("evaluate", lambda n: bool(_EVALUATE.match(n))),
        ("prepare", lambda n: n in _PREPARE),
        ("plot", lambda n: n in _PLOT),
    ):
        if any(test(n) for n in names):
            return phase
    return ""


def _fitted_object(tree: ast.AST) -> str:
    for name, call in _calls(tree):
        if name in _FIT and isinstance(call.func, ast.Attribute):
            owner = call.func.value
            if isinstance(owner, ast.Name) and owner.id not in ("self",):
                return owner.id.lower()
    return "model"


def from_code(trees: list[ast.AST], writes: list[str]) -> str:
    """A verb-object name from what the step's cells do: load_data, fit_knn, plot_results."""
    imported = {
        (a.asname or a.name).split(".")[0]
        for t in trees
        for node in ast.walk(t)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for a in node.names
    }
    target = next((w.lower() for w in writes if not w.startswith("_") and w not in imported), "")
    phases = [p for p in (phase_of(t) for t in trees) if p]
    if "fit" in phases:
        return "fit_" + _fitted_object(next(t for t in trees if phase_of(t) == "fit"))
    first = phases[0] if phases else ""
    if first == "load":
        return "load_" + (target or "data")
    if first == "split":
        return "split_data"
    if first in ("evaluate", "plot", "prepare"):
        return f"{first}_{target}" if target else first
    if target:
        return "make_" + target
    calls = [n for t in trees for n, _ in _calls(t)]
    if calls and set(calls) <= {"print", "display", "head", "describe", "info", "tail"}:
        return "show"
    main = next((n for n in calls if n not in ("print", "display")), "")
    if not main and imported:  # imports the notebook keeps in place (see lift/imports.py)
        return "import_" + _identifier(_module_of(trees) or sorted(imported)[0])
    return _identifier(_CAMEL.sub("_", main).lower()) or _set_or_show(trees)


def _set_or_show(trees: list[ast.AST]) -> str:
    """`os.environ["K"] = v` → set_environ; a cell that only displays `x` → show_x."""
    for t in trees:
        for node in getattr(t, "body", []):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                while isinstance(target, ast.Subscript):
                    target = target.value
                if isinstance(target, ast.Attribute):
                    return _identifier("set_" + target.attr)
    last = getattr(trees[-1], "body", [None])[-1] if trees else None
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Name):
        return _identifier("show_" + last.value.id)
    return ""


_TEXT_DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.M)
_TEXT_ASSIGN = re.compile(r"^([A-Za-z_]\w*)\s*=(?!=)", re.M)


def from_text(sources: list[str]) -> str:
    """A step whose code cannot be parsed (Python 2 `print x`, say): the first function its
    lines define at the top level (define_…), else the first name they assign (make_…)."""
    for pattern, verb in ((_TEXT_DEF, "define"), (_TEXT_ASSIGN, "make")):
        for source in sources:
            m = pattern.search(source)
            if m and _identifier(m.group(1)):
                return f"{verb}_{_identifier(m.group(1))}"
    return ""


def _module_of(trees: list[ast.AST]) -> str:
    """The first module a step's imports name (`from sklearn.svm import SVC` → sklearn)."""
    for t in trees:
        for node in ast.walk(t):
            if isinstance(node, ast.Import):
                return node.names[0].name.split(".")[0]
            if isinstance(node, ast.ImportFrom) and node.module:
                return node.module.split(".")[0]
    return ""


def from_comments(sources: list[str]) -> str:
    """A step without code (notes, a licence header): its first comment line's words."""
    for source in sources:
        for line in source.splitlines():
            text = line.strip()
            if not text.startswith("#") or text.startswith("#!"):
                continue
            if re.search(r"\b(?:copyright|licen[cs]e)\b", text, re.I):
                return "license_header"
            name = from_heading(text.lstrip("#"))
            if name:
                return name
    return ""


def _identifier(text: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return name if name and name[0].isalpha() else ""
