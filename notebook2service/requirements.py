"""Dependency inference for the package that ``nb2svc convert`` generates.

Two sources: the notebook's imports (top-level or dotted module names) and its ``!pip install``
/ ``%pip install`` lines. Imports are mapped to distributions with ``importlib.metadata`` only;
nothing the notebook imports is ever imported here. Requirements are pinned to the version
installed where the converter runs; a specifier the user wrote on a pip line wins.

    reqs = infer(["sklearn", "numpy", "os", "helpers"], ["pip install -q 'pandas>=2'"],
                 local_modules=["helpers"])
    "\\n".join(r.line() for r in reqs)   # pandas>=2 / numpy==2.1.3 / scikit-learn==1.5.2
    reqs.warnings                      # what could not be expressed as a requirement

Nothing in this module raises for bad input: problems become notes or warnings.
"""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as _PEP508
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .ipython import shell_words

__all__ = [
    "Requirement",
    "Requirements",
    "distribution_for",
    "infer",
    "parse_pip_command",
]


@dataclass(frozen=True)
class Requirement:
    name: str  # distribution name as on PyPI, e.g. "scikit-learn"
    specifier: str  # "==1.5.2", ">=2", "" (unpinned), or "@ <url>" for a direct reference
    modules: tuple[str, ...]  # import names that brought it in, e.g. ("sklearn",)
    source: str  # "import" | "pip" (a pip line wrote the specifier; modules may be merged in)
    installed: str | None  # version installed where the converter runs, or None
    note: str = ""  # why it is unpinned / anything surprising
    extras: tuple[str, ...] = ()  # ("s3",) for "pkg[s3]"
    marker: str = ""  # environment marker without the ";", e.g. 'python_version < "3.11"'

    def line(self) -> str:
        """The requirements.txt line, e.g. ``scikit-learn==1.5.2``."""
        text = self.name
        if self.extras:
            text += "[" + ",".join(self.extras) + "]"
        if self.specifier.startswith("@"):
            text += " " + self.specifier
            return text + (" ; " + self.marker if self.marker else "")
        text += self.specifier
        return text + ("; " + self.marker if self.marker else "")


class Requirements(list[Requirement]):
    """What :func:`infer` returns: a plain list, plus the warnings collected on the way."""

    def __init__(
        self,
        items: Iterable[Requirement] = (),
        warnings: Iterable[str] = (),
        kept: Iterable[str] = (),
    ) -> None:
        super().__init__(items)
        self.warnings: list[str] = list(warnings)
        #: pip lines kept verbatim from the notebook's pip commands: index options
        #: ("--index-url URL") and direct references ("git+https://...")
        self.kept: list[str] = list(dict.fromkeys(kept))

    def lines(self) -> list[str]:
        """requirements.txt: pip options, then requirements, then direct references."""
        options = [k for k in self.kept if k.startswith("-")]
        direct = [k for k in self.kept if not k.startswith("-")]
        return [*options, *(r.line() for r in self), *direct]


# --------------------------------------------------------------------------- module -> dist

# Import names whose distribution is named differently (or whose name on PyPI is taken by
# something else). Used when nothing installed provides the module, and to break ties.
# Dotted keys map sub-packages of namespace packages; the longest matching prefix wins.
FALLBACK: dict[str, str] = {
    "Bio": "biopython",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "Levenshtein": "Levenshtein",
    "MySQLdb": "mysqlclient",
    "OpenGL": "PyOpenGL",
    "OpenSSL": "pyOpenSSL",
    "PIL": "Pillow",
    "absl": "absl-py",
    "attr": "attrs",
    "azure.identity": "azure-identity",
    "azure.storage.blob": "azure-storage-blob",
    "boto3": "boto3",
    "bs4": "beautifulsoup4",
    "bson": "pymongo",
    "cairo": "pycairo",
    "community": "python-louvain",
    "confluent_kafka": "confluent-kafka",
    "cv2": "opencv-python",
    "databricks.sql": "databricks-sql-connector",
    "dateutil": "python-dateutil",
    "delta": "delta-spark",
    "discord": "discord.py",
    "dns": "dnspython",
    "docx": "python-docx",
    "dotenv": "python-dotenv",
    "engineio": "python-engineio",
    "faiss": "faiss-cpu",
    "fitz": "PyMuPDF",
    "git": "GitPython",
    "github": "PyGithub",
    "google.api_core": "google-api-core",
    "google.auth": "google-auth",
    "google.cloud.aiplatform": "google-cloud-aiplatform",
    "google.cloud.bigquery": "google-cloud-bigquery",
    "google.cloud.firestore": "google-cloud-firestore",
    "google.cloud.pubsub": "google-cloud-pubsub",
    "google.cloud.secretmanager": "google-cloud-secret-manager",
    "google.cloud.storage": "google-cloud-storage",
    "google.genai": "google-genai",
    "google.generativeai": "google-generativeai",
    "google.oauth2": "google-auth",
    "google.protobuf": "protobuf",
    "googleapiclient": "google-api-python-client",
    "grpc": "grpcio",
    "gtts": "gTTS",
    "imblearn": "imbalanced-learn",
    "jose": "python-jose",
    "jwt": "PyJWT",
    "kafka": "kafka-python",
    "lightgbm": "lightgbm",
    "magic": "python-magic",
    "multipart": "python-multipart",
    "mysql.connector": "mysql-connector-python",
    "nacl": "PyNaCl",
    "osgeo": "GDAL",
    "paho.mqtt": "paho-mqtt",
    "pdfminer": "pdfminer.six",
    "pkg_resources": "setuptools",
    "pptx": "python-pptx",
    "psycopg2": "psycopg2-binary",
    "pylab": "matplotlib",
    "mpl_toolkits": "matplotlib",
    "rest_framework": "djangorestframework",
    "sagemaker": "sagemaker",
    "serial": "pyserial",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "skopt": "scikit-optimize",
    "slugify": "python-slugify",
    "snowflake.connector": "snowflake-connector-python",
    "snowflake.snowpark": "snowflake-snowpark-python",
    "socketio": "python-socketio",
    "speech_recognition": "SpeechRecognition",
    "talib": "TA-Lib",
    "telegram": "python-telegram-bot",
    "tensorflow": "tensorflow",
    "torch": "torch",
    "umap": "umap-learn",
    "usb": "pyusb",
    "websocket": "websocket-client",
    "win32api": "pywin32",
    "win32com": "pywin32",
    "xgboost": "xgboost",
    "yaml": "PyYAML",
    "zmq": "pyzmq",
}

# Other distributions that provide the same import; a pip line naming one of them claims the
# import (``!pip install opencv-python-headless`` + ``import cv2`` is one requirement).
ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "cv2": (
        "opencv-python",
        "opencv-python-headless",
        "opencv-contrib-python",
        "opencv-contrib-python-headless",
    ),
    "PIL": ("Pillow", "pillow-simd"),
    "psycopg2": ("psycopg2", "psycopg2-binary"),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos"),
    "faiss": ("faiss-cpu", "faiss-gpu"),
    "magic": ("python-magic", "python-magic-bin"),
    "Crypto": ("pycryptodome", "pycrypto"),
    "jwt": ("PyJWT",),
}

_FALLBACK_NOTES: dict[str, str] = {
    "cv2": "for a server image consider opencv-python-headless",
    "psycopg2": "psycopg2-binary assumed; use psycopg2 to build against the system libpq",
}

# Top-level packages shared by many distributions (PEP 420 / pkgutil namespaces). For an
# unresolved dotted import under one of these, the distribution name is assumed from the full
# dotted path (azure.storage.blob -> azure-storage-blob), not from the top level.
NAMESPACES = frozenset(
    {"azure", "backports", "google", "jaraco", "opentelemetry", "ruamel", "sphinxcontrib", "zope"}
)

# Modules that exist only inside a notebook front end: never requirements of the service.
NOTEBOOK_ONLY: dict[str, str] = {
    "IPython": "IPython is notebook-only; the converted code must not need it",
    "google.colab": "google.colab only exists on Colab",
    "kaggle_secrets": "kaggle_secrets only exists on Kaggle",
    "kaggle_datasets": "kaggle_datasets only exists on Kaggle",
}

# Removed from the standard library (3.12 / 3.13); still treated as stdlib, with a warning.
_REMOVED_STDLIB = frozenset(
    "aifc asynchat asyncore audioop cgi cgitb chunk crypt distutils imghdr imp lib2to3 mailcap "
    "msilib nis nntplib ossaudiodev pipes smtpd sndhdr spwd sunau telnetlib uu xdrlib".split()
)

# Installed by ``!pip install -U pip setuptools wheel``; not runtime dependencies.
_TOOLING = frozenset({"pip", "setuptools", "wheel"})


@functools.cache
def _packages_distributions() -> dict[str, tuple[str, ...]]:
    """``importlib.metadata.packages_distributions()``, de-duplicated and cached (slow-ish)."""
    try:
        mapping = metadata.packages_distributions()
    except Exception:  # a broken distribution must not break inference
        return {}
    return {module: tuple(dict.fromkeys(dists)) for module, dists in mapping.items()}


@functools.cache
def _installed(dist: str) -> tuple[str, str] | None:
    """(metadata name, version) of an installed distribution, or None."""
    try:
        found = metadata.distribution(dist)
        name, version = found.metadata["Name"], found.version
    except Exception:
        return None
    if not isinstance(version, str) or not version:
        return None
    return (name if isinstance(name, str) and name else dist), version


@functools.cache
def _module_paths(dist: str) -> tuple[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]]:
    """Module paths a distribution's files provide, as tuples of parts: (owned, all).

    ``owned`` are modules and regular packages (``x.py``, ``x/__init__.py``, extensions);
    ``all`` adds every directory on the way, i.e. namespace packages such as ``google.cloud``
    that many distributions share.
    """
    try:
        files = metadata.distribution(dist).files or ()
    except Exception:
        return frozenset(), frozenset()
    owned: set[tuple[str, ...]] = set()
    every: set[tuple[str, ...]] = set()
    for path in files:
        parts = list(path.parts)
        if not parts or any(p in ("..", "__pycache__") or p.endswith(".dist-info") for p in parts):
            continue
        last = parts[-1]
        stem = last.split(".", 1)[0]  # x.py, x.pyi, x.cpython-311-x86_64-linux-gnu.so
        if last.endswith((".py", ".pyi", ".pyc", ".so", ".pyd")):
            parts = parts[:-1] if stem == "__init__" else [*parts[:-1], stem]
            if parts:
                owned.add(tuple(parts))
        else:
            parts = parts[:-1]  # a data file: its directories are (namespace) packages
        for i in range(1, len(parts) + 1):
            every.add(tuple(parts[:i]))
    return frozenset(owned), frozenset(every)


def _pick(candidates: Iterable[str], module: str) -> tuple[str, str]:
    """Choose one of several distributions providing ``module``: (name, note)."""
    candidates = sorted(candidates, key=str.lower)
    if len(candidates) == 1:
        return candidates[0], ""
    wanted = {canonicalize_name(module), canonicalize_name(module.replace(".", "-"))}
    prefix = _longest_prefix(module, FALLBACK)
    if prefix:
        wanted.add(canonicalize_name(FALLBACK[prefix]))
    for cand in candidates:
        if canonicalize_name(cand) in wanted:
            return cand, ""
    others = ", ".join(candidates[1:])
    return candidates[0], f"{module} is provided by several distributions; also {others}"


def _longest_prefix(module: str, table: Iterable[str]) -> str | None:
    parts = module.split(".")
    keys = set(table)
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in keys:
            return prefix
    return None


def _resolve(module: str) -> tuple[str | None, str | None, str]:
    """(distribution, installed version, note) for a top-level or dotted module name."""
    parts = module.split(".")
    top = parts[0]
    candidates = _packages_distributions().get(top, ())

    # a. an installed distribution ships the dotted path (longest prefix, depth >= 2); a
    #    shorter prefix counts only if the distribution owns it (google/cloud/ is shared)
    if len(parts) > 1 and candidates:
        for depth in range(len(parts), 1, -1):
            want = tuple(parts[:depth])
            which = 1 if depth == len(parts) else 0
            hits = [c for c in candidates if want in _module_paths(c)[which]]
            if hits:
                return _with_version(*_pick(hits, ".".join(want)))

    # b. a well-known dotted sub-package (google.cloud.storage -> google-cloud-storage)
    prefix = _longest_prefix(module, FALLBACK)
    if prefix and "." in prefix:
        return _from_table(prefix)

    # c. an installed distribution provides the top-level name; for a dotted import it must
    #    own the top level (a namespace like google/ says nothing about google.foo)
    if candidates:
        owners = candidates
        if len(parts) > 1:
            owners = tuple(c for c in candidates if (top,) in _module_paths(c)[0])
        if owners:
            return _with_version(*_pick(owners, top))

    # d. the well-known table
    if prefix:
        return _from_table(prefix)

    # e. an installed distribution named like the module (editable installs map no modules)
    if not candidates:
        found = _installed(top)
        if found is not None:
            return found[0], found[1], "matched by distribution name"
    return None, None, ""


def _with_version(dist: str, note: str) -> tuple[str, str | None, str]:
    found = _installed(dist)
    if found is None:
        return dist, None, note
    return found[0], found[1], note


def _from_table(key: str) -> tuple[str, str | None, str]:
    dist = FALLBACK[key]
    found = _installed(dist)
    if found is not None:
        return found[0], found[1], ""
    note = "not installed here; name from the well-known table"
    extra = _FALLBACK_NOTES.get(key)
    return dist, None, f"{note}; {extra}" if extra else note


def distribution_for(module: str) -> tuple[str | None, str | None]:
    """(distribution, installed version) for an import name; (None, None) when unknown.

    Accepts dotted names ("google.cloud.storage"). A distribution from the well-known table
    that is not installed comes back with version None.
    """
    try:
        if not _is_module_name(module):
            return None, None
        dist, version, _ = _resolve(module)
        return dist, version
    except Exception:
        return None, None


def _is_module_name(module: object) -> bool:
    return (
        isinstance(module, str)
        and bool(module)
        and all(p.isidentifier() for p in module.split("."))
    )


# --------------------------------------------------------------------------- pip commands

_PIP_EXE = re.compile(r"pip(\d+(\.\d+)*)?$")
_PYTHON_EXE = re.compile(r"(python|pypy)(\d+(\.\d+)*)?[wt]?$|py$")
_CONDA_EXE = frozenset({"conda", "mamba", "micromamba"})
_SYSTEM_EXE = frozenset({"apt", "apt-get", "yum", "dnf", "apk", "brew"})
_WRAPPERS = frozenset({"sudo", "env", "time", "exec", "command", "nohup"})
_REDIRECT = re.compile(r"^\d*(>>?|<|>&|&>)")

# pip / uv pip options that take a value (as the next token or after "=").
_VALUE_OPTS = frozenset(
    """
    --requirement --constraint --editable --target --platform --python-version --implementation
    --abi --root --prefix --src --upgrade-strategy --config-settings --config-setting
    --global-option --install-option --build-option --no-binary --only-binary --progress-bar
    --root-user-action --report --index-url --extra-index-url --find-links --trusted-host
    --proxy --retries --timeout --log --log-file --local-log --cache-dir --cert --client-cert
    --exists-action --python --keyring-provider --use-feature --use-deprecated --group
    --resume-retries --override --prerelease --resolution --reinstall-package
    --upgrade-package --no-build-isolation-package --exclude-newer --link-mode --index
    --default-index --index-strategy --python-platform --allow-insecure-host --extra
    --color --directory --project --config-file --torch-backend --uploaded-prior-to
    """.split()
)
_SHORT_VALUE_OPTS = frozenset("rcetifCpP")
_ARCHIVE = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip", ".egg")


def parse_pip_command(command: str) -> tuple[list[str], list[str]]:
    """Requirement strings installed by a shell / %pip command, and warnings.

    ``command`` is the text after ``!`` (a leading ``!``/``%`` is tolerated), e.g.
    ``"pip install -q -U xgboost==1.2 'pandas>=2'"``. Only ``install`` contributes
    requirements; options are skipped. Chains (``&&``, ``;``, ``|``, newlines) are split and
    only their pip parts read. Anything that cannot become a requirement (``-r`` files, ``-e``,
    URLs, local paths, variables, conda, uninstall) is reported as a warning. Never raises.
    """
    reqs, warnings, _ = _parse_pip(command)
    return reqs, warnings


def _parse_pip(command: object) -> tuple[list[str], list[str], list[str]]:
    """:func:`parse_pip_command` plus the lines kept verbatim for requirements.txt.

    Those are index options (``--index-url URL``, ``--extra-index-url``, ``--find-links``,
    ``--trusted-host``) and direct references (``git+https://...``, wheel URLs).
    """
    reqs: list[str] = []
    warnings: list[str] = []
    kept: list[str] = []
    if not isinstance(command, str):
        return reqs, warnings, kept
    try:
        for segment, angle_words in _split_chain(command):
            _parse_segment(segment, angle_words, reqs, (warnings, kept))
    except Exception as exc:  # pragma: no cover - belt and braces
        warnings.append(f"could not parse {command!r}: {exc}")
    return reqs, warnings, kept


@dataclass
class _Chain:
    """The state of `_split_chain`: segments so far, the current segment and word."""

    segments: list[tuple[str, frozenset[str]]] = field(default_factory=list)
    buf: list[str] = field(default_factory=list)  # the segment, verbatim
    word: list[str] = field(default_factory=list)  # the current word, quotes removed
    word_angle: bool = False
    angle_words: set[str] = field(default_factory=set)

    def end_word(self) -> None:
        if self.word_angle and self.word:
            self.angle_words.add("".join(self.word))
        self.word.clear()
        self.word_angle = False

    def flush(self) -> None:
        self.end_word()
        segment = "".join(self.buf).strip()
        if segment:
            self.segments.append((segment, frozenset(self.angle_words)))
        self.buf.clear()
        self.angle_words.clear()


def _split_chain(text: str) -> list[tuple[str, frozenset[str]]]:
    """Split on unquoted ``&&`` ``||`` ``;`` ``|`` and newlines; drop ``#`` comments.

    Each segment comes with the words (quotes removed) that contain an unquoted ``<`` or ``>``,
    which a shell reads as a redirection (``pip install pandas>=2`` writes to a file ``=2``).
    """
    c = _Chain()
    buf, word = c.buf, c.word
    quote: str | None = None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"' and i + 1 < n:
                buf.append(text[i + 1])
                word.append(text[i + 1])
                i += 1
            else:
                word.append(ch)
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch == "\\" and i + 1 < n:
            if text[i + 1] != "\n":  # backslash-newline is a line continuation
                buf.append(text[i : i + 2])
                word.append(text[i + 1])
            i += 2
            continue
        elif ch == "#" and (not buf or buf[-1].isspace()):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif text.startswith(("&&", "||"), i):
            c.flush()
            i += 2
            continue
        elif ch in ";|\n\r":
            c.flush()
        elif ch.isspace():
            c.end_word()
            buf.append(ch)
        else:
            if ch in "<>":
                c.word_angle = True
            buf.append(ch)
            word.append(ch)
        i += 1
    c.flush()
    return c.segments


def _basename(token: str) -> str:
    name = re.split(r"[\\/]", token)[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


#: (warnings, lines kept verbatim for requirements.txt) collected while parsing a pip line
_Out = tuple[list[str], list[str]]


def _command(segment: str) -> tuple[str, list[str], list[str] | None]:
    """(installer, tokens, pip arguments) of one shell segment: the installer is "pip",
    "conda", "system" (apt, brew, …) or "" for any other command; pip arguments are None
    unless it is pip."""
    tokens = shell_words(segment)
    if tokens:
        tokens[0] = tokens[0].lstrip("!%")
    # strip wrappers and VAR=value assignments: "sudo -H pip ...", "env X=1 pip ..."
    while tokens and (
        tokens[0] in _WRAPPERS
        or re.match(r"[A-Za-z_]\w*=", tokens[0])
        or (tokens[0].startswith("-") and len(tokens) > 1)
    ):
        tokens = tokens[1:]
    if not tokens:
        return "", tokens, None
    exe = _basename(tokens[0])
    pip_args: list[str] | None = None
    if exe in ("install", "uninstall"):  # the text after "%pip"
        pip_args = tokens
    elif _PIP_EXE.match(exe):
        pip_args = tokens[1:]
    elif exe == "uv":
        pip_args = tokens[tokens.index("pip") + 1 :] if "pip" in tokens else None
    elif _PYTHON_EXE.match(exe) or tokens[0].startswith(("{", "$")):
        pip_args = _python_m_pip(tokens[1:])
    elif exe in _CONDA_EXE:
        return "conda", tokens, None
    elif exe in _SYSTEM_EXE:
        return "system", tokens, None
    return ("pip" if pip_args is not None else ""), tokens, pip_args


def installs_packages(command: object, *, first: bool = False) -> bool:
    """Does this shell / %pip command install Python packages (pip, uv pip, conda, mamba)?
    With `first`, only the chain's first command counts (`pip install x && ls`).

    The one reading of install commands: lint (NB201), convert (a requirement instead of a
    shell call) and verify (pip's chatter) all ask here.
    """
    if not isinstance(command, str):
        return False
    segments = _split_chain(command)
    for segment, _ in segments[:1] if first else segments:
        installer, tokens, pip_args = _command(segment)
        if installer == "pip" and _pip_subcommand(pip_args or [])[0] == "install":
            return True
        if installer == "conda" and "install" in tokens:
            return True
    return False


def _parse_segment(segment: str, angle: frozenset[str], reqs: list[str], out: _Out) -> None:
    warnings = out[0]
    installer, tokens, pip_args = _command(segment)
    if installer == "conda":
        if "install" in tokens or "create" in tokens:
            warnings.append(f"{segment}: conda packages are not translated; add them by hand")
        return
    if installer == "system":
        if "install" in tokens:
            warnings.append(f"{segment}: system packages are not Python requirements")
        return
    if pip_args is None:
        return
    sub, args = _pip_subcommand(pip_args)
    if sub == "install":
        _parse_install(args, segment, angle, reqs, out)
    elif sub == "uninstall":
        names = [a for a in args if not a.startswith("-")]
        warnings.append(
            f"pip uninstall {' '.join(names)}: uninstalls cannot be expressed as requirements"
        )


def _python_m_pip(args: list[str]) -> list[str] | None:
    """The pip arguments of ``python [opts] -m pip ...`` (also ``-m uv pip``), else None."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-m" or (arg.startswith("-m") and len(arg) > 2):
            module = arg[2:] if len(arg) > 2 else (args[i + 1] if i + 1 < len(args) else "")
            rest = args[i + (1 if len(arg) > 2 else 2) :]
            if module == "pip":
                return rest
            if module == "uv" and "pip" in rest:
                return rest[rest.index("pip") + 1 :]
            return None
        if arg in ("-W", "-X"):
            i += 2
            continue
        if not arg.startswith("-") or arg == "-c":
            return None
        i += 1
    return None


def _pip_subcommand(args: list[str]) -> tuple[str | None, list[str]]:
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            i += 2 if arg in _VALUE_OPTS else 1
        elif arg.startswith("-") and len(arg) > 1:
            i += 1
        else:
            return arg, args[i + 1 :]
    return None, []


def _parse_install(
    args: list[str], segment: str, angle: frozenset[str], reqs: list[str], out: _Out
) -> None:
    warnings, kept = out
    positional: list[str] = []
    i, n = 0, len(args)
    only_positional = False
    while i < n:
        arg = args[i]
        i += 1
        if only_positional:
            positional.append(arg)
        elif arg == "--":
            only_positional = True
        elif _REDIRECT.match(arg) or arg == "&":
            if re.fullmatch(r"\d*(>>?|<|&>)", arg):
                i += 1  # "> file": the file too
        elif arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name in _VALUE_OPTS:
                if not eq:
                    value = args[i] if i < n else ""
                    i += 1
                _install_option(name, value, out)
        elif arg.startswith("-") and len(arg) > 1:
            for j, ch in enumerate(arg[1:], start=1):
                if ch in _SHORT_VALUE_OPTS:
                    value = arg[j + 1 :]
                    if not value:
                        value = args[i] if i < n else ""
                        i += 1
                    _install_option("-" + ch, value, out)
                    break
        else:
            positional.append(arg)

    # "name @ url" typed without quotes arrives as three tokens
    merged: list[str] = []
    k = 0
    while k < len(positional):
        if k + 2 < len(positional) and positional[k + 1] == "@":
            merged.append(" ".join(positional[k : k + 3]))
            k += 3
        else:
            merged.append(positional[k])
            k += 1

    for tok in merged:
        req, warning = _requirement_string(tok)
        if req is not None:
            reqs.append(req)
            if tok in angle:
                warnings.append(
                    f"{tok}: unquoted '<'/'>' is a shell redirection in {segment!r}; "
                    "read as the intended specifier (quote it in the notebook)"
                )
        if warning:
            warnings.append(_direct_reference(tok, kept, warnings) or warning)


def _direct_reference(tok: str, kept: list[str], warnings: list[str]) -> str | None:
    """Keep a VCS link / archive URL verbatim for requirements.txt; its warning, else None."""
    if not _DIRECT.match(tok):
        return None
    url = _without_credentials(tok, warnings)
    kept.append(url)
    return f"{url}: direct reference kept in requirements.txt (not pinned by version)"


_DIRECT = re.compile(r"^(git|hg|svn|bzr)\+[a-z]+://|^https?://\S+\.(whl|tar\.gz|zip)(#\S*)?$", re.I)
_INDEX_OPTS = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "--trusted-host": "--trusted-host",
}


def _without_credentials(url: str, warnings: list[str]) -> str:
    """``url`` with any ``user:password@`` removed (never written to requirements.txt)."""
    cleaned = re.sub(r"(://)[^/@\s]+@", r"\1", url)
    if cleaned != url:
        warnings.append(
            f"{cleaned}: credentials in the URL removed; give them to pip at build time "
            "(the PIP_INDEX_URL environment variable, pip's configuration or a build secret)"
        )
    return cleaned


def _install_option(name: str, value: str, out: tuple[list[str], list[str]]) -> None:
    warnings, kept = out
    if name in _INDEX_OPTS and value:
        url = _without_credentials(value, warnings)
        kept.append(f"{_INDEX_OPTS[name]} {url}")
    elif name in ("-r", "--requirement"):
        warnings.append(f"-r {value}: requirements file not read; add its lines by hand")
    elif name in ("-e", "--editable"):
        warnings.append(f"-e {value}: editable install is not a requirement")


def _requirement_string(token: str) -> tuple[str | None, str]:
    """(normalized requirement string, "") or (None, warning)."""
    if not token:
        return None, ""
    if re.search(r"\{[^}]*\}|\$\w|\$\{", token):
        return None, f"{token}: uses a notebook or shell variable; cannot be resolved"
    if "@" not in token and (
        re.match(r"^[A-Za-z][\w.-]*\+", token)  # git+https://..., hg+..., svn+...
        or "://" in token
        or token.startswith((".", "/", "~", "file:"))
        or "\\" in token
        or "/" in token
        or token.lower().endswith(_ARCHIVE)
    ):
        return None, f"{token}: URLs, VCS links and local paths are not requirements"
    try:
        req = _PEP508(token)
    except InvalidRequirement:
        return None, f"{token}: not a valid requirement"
    return str(req), ""


# --------------------------------------------------------------------------- infer


@dataclass
class _Entry:
    name: str
    specifier: str = ""
    modules: set[str] = field(default_factory=set)
    source: str = "import"
    installed: str | None = None
    notes: list[str] = field(default_factory=list)
    extras: set[str] = field(default_factory=set)
    marker: str = ""

    def freeze(self) -> Requirement:
        return Requirement(
            name=self.name,
            specifier=self.specifier,
            modules=tuple(sorted(self.modules)),
            source=self.source,
            installed=self.installed,
            note="; ".join(dict.fromkeys(n for n in self.notes if n)),
            extras=tuple(sorted(self.extras)),
            marker=self.marker,
        )


def _pin(version: str | None) -> tuple[str, str]:
    """(specifier, note) pinning to an installed version, PEP 440 normalized."""
    if version is None:
        return "", ""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return "", f"installed version {version!r} is not PEP 440; left unpinned"
    if parsed.local is not None:
        # "==1.2.0" also matches "1.2.0+cu121"; the local label itself is never on PyPI
        return f"=={parsed.public}", f"installed {version}; local version label dropped"
    return f"=={parsed}", ""


def _direct_url_note(dist: str) -> str:
    """A note when a distribution was installed from a path / VCS / URL, not an index."""
    try:
        raw = metadata.distribution(dist).read_text("direct_url.json")
        url = json.loads(raw).get("url", "") if raw else ""
    except Exception:
        return ""
    return f"installed from {url}; the pin may not exist on PyPI" if url else ""


def _as_list(value: object) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return list(value)  # type: ignore[call-overload]
    except TypeError:
        return []


def _local_names(local_modules: Iterable[str]) -> set[str]:
    """Top-level names of local modules, given as names ("helpers") or paths ("src/x.py")."""
    names: set[str] = set()
    for item in _as_list(local_modules):
        if not isinstance(item, str) or not item.strip():
            continue
        text = item.strip().replace("\\", "/")
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if not parts:
            continue
        if "/" in text or text.endswith((".py", ".pyx")):
            stem = parts[-1].rsplit(".", 1)[0] if "." in parts[-1] else parts[-1]
            names.add(stem)
            if len(parts) > 1 and parts[0] != "..":
                names.add(parts[0])  # "pkg/mod.py" -> package "pkg"
        else:
            names.add(text.split(".", 1)[0])
    return names


def infer(
    imports: Iterable[str],
    pip_commands: Iterable[str] = (),
    *,
    local_modules: Iterable[str] = (),
    needed: Iterable[str] = (),
) -> Requirements:
    """Requirements for the notebook's imports and pip lines, sorted by name.

    Stdlib, ``__future__``, ``local_modules`` and notebook-only modules (IPython, google.colab)
    are skipped, unless a notebook-only module is in ``needed`` (the generated code imports
    it, so the image must install it). A module no installed distribution provides and no
    well-known name covers is never written (an import name is not a distribution name):
    it becomes a warning. Installed distributions are pinned to their version (``==x.y.z``); a
    specifier written on a pip line wins over the pin, and its ``installed`` is still recorded.
    Warnings (skipped modules, unparseable pip lines) are in ``result.warnings``. Never raises.
    """
    warnings: list[str] = []
    kept: list[str] = []
    entries: dict[str, _Entry] = {}
    try:
        kept = _infer_pip(_as_list(pip_commands), entries, warnings)
        _infer_imports(
            _as_list(imports),
            _local_names(local_modules),
            entries,
            warnings,
            frozenset(_as_list(needed)),
        )
    except Exception as exc:  # pragma: no cover - belt and braces
        warnings.append(f"dependency inference failed part-way: {exc!r}")

    for key in [k for k, e in entries.items() if k in _TOOLING and not e.modules]:
        warnings.append(f"{entries.pop(key).name}: packaging tool, not a runtime dependency")
    reqs = sorted(
        (e.freeze() for e in entries.values()),
        key=lambda r: (r.name.lower(), canonicalize_name(r.name)),
    )
    return Requirements(reqs, warnings, kept)


def _infer_pip(commands: list, entries: dict[str, _Entry], warnings: list[str]) -> list[str]:
    kept: list[str] = []
    for command in commands:
        found, command_warnings, command_kept = _parse_pip(command)
        warnings.extend(command_warnings)
        kept.extend(command_kept)
        for text in found:
            try:
                req = _PEP508(text)
            except InvalidRequirement:  # pragma: no cover - parse_pip_command validated it
                continue
            key = canonicalize_name(req.name)
            installed = _installed(req.name)
            name = installed[0] if installed else req.name
            version = installed[1] if installed else None
            notes: list[str] = []
            if req.url:
                specifier = f"@ {req.url}"
            elif str(req.specifier):
                specifier = str(req.specifier)
                if version is None:
                    notes.append("not installed here")
                elif not _satisfies(req.specifier, version):
                    notes.append(f"installed {version} does not satisfy {specifier}")
            else:
                specifier, note = _pin(version)
                notes.append(note or ("" if version else "not installed here; unpinned"))
            entry = entries.get(key)
            if entry is not None and entry.specifier != specifier:
                warnings.append(
                    f"{name}: installed twice by pip lines ({entry.specifier or 'unpinned'}, "
                    f"then {specifier or 'unpinned'}); the last one wins"
                )
            old_extras = entry.extras if entry else set()
            entries[key] = _Entry(
                name=name,
                specifier=specifier,
                source="pip",
                installed=version,
                notes=notes,
                extras=old_extras | set(req.extras),
                marker=str(req.marker) if req.marker else "",
            )
    return kept


def _satisfies(specifier: SpecifierSet, version: str) -> bool:
    try:
        return specifier.contains(version, prereleases=True)
    except (InvalidSpecifier, InvalidVersion, TypeError):
        return True


_UNKNOWN = (
    "{module}: no installed distribution provides it and it is not a known name; not written "
    "as a requirement (install it where the notebook runs and convert again, or add a "
    "`!pip install NAME` line)"
)


def _infer_imports(
    imports: list,
    local: set[str],
    entries: dict[str, _Entry],
    warnings: list[str],
    needed: frozenset[str] = frozenset(),
) -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__", "__main__"}
    pip_keys = {k for k, e in entries.items() if e.source == "pip"}
    seen: set[str] = set()
    for module in imports:
        if not isinstance(module, str):
            warnings.append(f"{module!r}: not a module name; skipped")
            continue
        module = module.strip()
        if module in seen or not module or module.startswith("."):
            continue  # relative imports are local
        seen.add(module)
        if not _is_module_name(module):
            warnings.append(f"{module!r}: not a module name; skipped")
            continue
        top = module.split(".", 1)[0]
        if top in local or module in local:
            continue
        if top in stdlib:
            continue
        if top in _REMOVED_STDLIB:
            warnings.append(f"{module}: removed from the standard library in Python 3.12/3.13")
            continue
        notebook_only = _longest_prefix(module, NOTEBOOK_ONLY)
        if notebook_only and module not in needed:
            warnings.append(f"{module}: skipped; {NOTEBOOK_ONLY[notebook_only]}")
            continue
        try:
            dist, version, note = _resolve(module)
        except Exception as exc:
            dist, version, note = None, None, f"lookup failed ({exc!r})"

        claimed = _claimed_by_pip(module, dist, pip_keys)
        if claimed is not None:
            entries[claimed].modules.add(module)
            continue
        if dist is None:
            # An import name is not a distribution name (smexperiments, a local module that
            # was not found): writing it would let pip fetch whatever the public index holds
            # under that name (dependency confusion). Say so instead.
            warnings.append(_UNKNOWN.format(module=module))
            continue
        key = canonicalize_name(dist)
        entry = entries.get(key)
        if entry is None:
            specifier, pin_note = _pin(version)
            entry = entries[key] = _Entry(
                name=dist,
                specifier=specifier,
                installed=version,
                notes=[note, pin_note, _direct_url_note(dist) if version else ""],
            )
        entry.modules.add(module)


def _claimed_by_pip(module: str, dist: str | None, pip_keys: set[str]) -> str | None:
    """The pip requirement an import belongs to, if any (same or alternative distribution)."""
    if not pip_keys:
        return None
    if dist is not None and canonicalize_name(dist) in pip_keys:
        return canonicalize_name(dist)
    top = module.split(".", 1)[0]
    names = [module, module.replace(".", "-")] + ([] if top in NAMESPACES else [top])
    prefix = _longest_prefix(module, FALLBACK)
    if prefix:
        names.append(FALLBACK[prefix])
    alt = _longest_prefix(module, ALTERNATIVES)
    if alt:
        names.extend(ALTERNATIVES[alt])
    for name in names:
        key = canonicalize_name(name)
        if key in pip_keys:
            return key
    return None
