"""The one redaction: every secret detector nb2svc knows, and the function that hides them.

Lint's NB301 reports what `find_secrets` finds; every message, manifest field, generated file
and CLI line goes through `redact`, so a rule and the redaction can never disagree about what
a secret is. Each detector is a compiled pattern plus literal *markers*: a pattern only runs
where one of its markers occurs (`in` on a long output is much faster than a regex scan), and
`redact` returns its input unchanged, without a regex pass, when no marker occurs at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = "***REDACTED***"


@dataclass(frozen=True)
class Secret:
    """One secret in a text: `text[start:end]` is the secret itself (not its prefix)."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class _Detector:
    kind: str
    pattern: re.Pattern[str]
    markers: tuple[str, ...]  # lower-case literals; the pattern can only match where one occurs
    group: str | int = 0  # the group that holds the secret; the rest of the match is kept
    free_form: bool = (
        False  # the value is free text: placeholders (`<password>`, `$TOKEN`) are not secrets
    )


_KEYWORD = r"(?:password|passwd|passphrase|pwd|secret|token|api_?key|apikey|access_?key|auth_?key|private_?key|credentials?)"
_VALUE_END = r"""[^\s'"`,;)}\]>]"""

_DETECTORS = (
    _Detector(
        "a private key",
        re.compile(
            r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?P<s>(?:(?!-----END).){0,20000}?)(?:-----END (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.S,
        ),
        ("private key",),
        "s",
    ),
    _Detector(
        "an AWS access key id",
        re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
        ("akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa"),
    ),
    _Detector(
        "a GitHub token",
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _Detector("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"), ("glpat-",)),
    _Detector("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), ("xox",)),
    _Detector(
        "a Slack webhook",
        re.compile(r"hooks\.slack\.com/services/(?P<s>[A-Za-z0-9/]{20,})"),
        ("hooks.slack.com",),
        "s",
    ),
    _Detector("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), ("aiza",)),
    _Detector(
        "an API secret key", re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{32,}"), ("sk-",)
    ),
    _Detector("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), ("hf_",)),
    _Detector("a Stripe key", re.compile(r"\b[rs]k_live_[A-Za-z0-9]{20,}"), ("k_live_",)),
    _Detector(
        "a JSON web token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
        ("eyj",),
    ),
    _Detector(
        "a credential in a URL",
        re.compile(r"://[^\s:/@'\"<>]{1,256}:(?P<s>[^\s/@'\"<>]{1,256})@"),
        ("://",),
        "s",
        True,
    ),
    _Detector(
        "an Authorization header",
        re.compile(
            r"(?i)\b(?:authorization|proxy-authorization)[\"']?\s*[:=]\s*[\"']?"
            r"(?:(?:bearer|basic|token|bot)\s+)?(?P<s>[A-Za-z0-9_\-.~+/=:]{8,})"
        ),
        ("authorization",),
        "s",
        True,
    ),
    _Detector(
        "a bearer token",
        re.compile(r"(?i)\bbearer\s+(?P<s>[A-Za-z0-9_\-.~+/=]{16,})"),
        ("bearer",),
        "s",
        True,
    ),
    _Detector(
        "a password on a command line",
        re.compile(
            r"(?:\s|^)(?:-u|--user)[\s=]+[\"']?[^\s:'\"]{1,128}:(?P<s>[^\s'\"]{1,256})"
            r"|(?i:--(?:password|passwd|pass|token|api-key|apikey|secret))[\s=]+[\"']?(?P<t>[^\s'\"-][^\s'\"]*)",
            re.M,
        ),
        ("-u", "--user", "--pass", "--token", "--api", "--secret"),
        "s",
        True,
    ),
    _Detector(
        "a secret assignment",
        re.compile(
            rf"(?i)(?P<n>{_KEYWORD}[A-Za-z0-9_]{{0,24}})(?:[\"']\]?|\])?\s*(?::=|=|:)\s*(?:[rbuf]{{0,2}}(?P<q>[\"']))?"
            rf"(?P<s>{_VALUE_END}{{4,}})"
        ),
        ("pass", "pwd", "secret", "token", "key", "credential"),
        "s",
        True,
    ),
)

#: values of a `name = value` assignment that are not secrets: placeholders, references to
#: the environment or to another name, empty-ish values
_PLACEHOLDER = re.compile(
    r"(?i)^(?:<.*>|\{.*\}|\$\{?\w+\}?|%\(?\w+\)?s?|x+|\*+|\.+|-+|_+|0+|none|null|nan|true|false|"
    r"todo|tbd|changeme|redacted.*|\*\*\*redacted\*\*\*|os\.environ.*|os\.getenv.*|getpass.*|"
    r"environ.*|input\(?.*|self\..*|args?\..*|config\..*|settings\..*|request.*|str|int|bytes|"
    r"optional.*|\d{1,6}|[a-z_]+\(.*|[a-z_]+\[.*)$"
    r"|^\[|^my[-_ ]|your|here|placeholder|example|replace|dummy|xxxx|\{\{"
)

_ALL_MARKERS = tuple(sorted({m for d in _DETECTORS for m in d.markers}))


def is_secret_name(name: str | None) -> bool:
    """True for a variable, parameter, key or option name that holds a secret."""
    if not name:
        return False
    n = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower().replace("-", "_").strip("_")
    parts = n.split("_")
    if any(p in ("password", "passwd", "passphrase", "pwd", "secret", "secrets") for p in parts):
        return not n.endswith(("_name", "_id", "_arn", "_path", "_file", "_dir", "_length"))
    if parts[-1] in ("token", "apikey", "credential", "credentials"):
        return not n.startswith(("max_", "num_", "n_", "min_", "pad_", "eos_", "bos_", "unk_"))
    return n.endswith(
        ("api_key", "access_key", "secret_key", "private_key", "auth_key", "access_token")
    )


def _assignment_ok(m: re.Match[str]) -> bool:
    """A `name = value` match is a secret when the name is secret-like and the value a literal."""
    start = m.start("n")
    text = m.string
    while (
        start > 0
        and m.start("n") - start < 24
        and (text[start - 1].isalnum() or text[start - 1] == "_")
    ):
        start -= 1
    if not is_secret_name(text[start : m.end("n")]):
        return False
    value = m.group("s")
    quote = m.start("q") if m.group("q") is not None else -1
    if quote > 0 and "f" in text[max(0, quote - 2) : quote].lower() and value[0] == "{":
        return False  # `"API_KEY": f"{API_KEY}"`: an interpolation (redacting it breaks code)
    if value[0] == "{" and text[m.end("s") : m.end("s") + 1] == "}":
        return False  # `token='{PAGE_TOKEN}` inside a longer f-string or template: a field
    if m.group("q") is None and not value[0].isalnum():
        return False  # `TOKEN = !gcloud ...`, `key = [..]`: not a literal
    if m.group("q") is None and not re.match(r"[A-Za-z0-9_\-+/=.~!@#%^&*]{6,}$", value):
        return False
    if (
        m.group("q") is None
        and re.match(r"[A-Za-z_][A-Za-z0-9_.]*$", value)
        and not any(c.isdigit() for c in value)
    ):
        return False  # `password = other_name`: a reference, not a literal
    return bool(re.fullmatch(r"[A-Za-z0-9/+]{40}", value)) or not _PLACEHOLDER.search(value)


_ASSIGN = _DETECTORS[-1]
_KEYWORD_STARTS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "api",
    "access",
    "auth",
    "private",
    "credential",
)


def _assignments(text: str, low: str, pattern: re.Pattern[str]):
    """Matches of the assignment pattern, tried only where a keyword starts (`str.find` is
    far faster than a case-insensitive alternation scanned over every character)."""
    starts: set[int] = set()
    for word in _KEYWORD_STARTS:
        pos = low.find(word)
        while pos != -1:
            starts.add(pos)
            pos = low.find(word, pos + 1)
    end = -1
    for pos in sorted(starts):
        if pos >= end and (m := pattern.match(text, pos)):
            end = m.end()
            yield m


def find_secrets(text: str) -> list[Secret]:
    """Every secret in `text`, as non-overlapping spans sorted by position."""
    if not text:
        return []
    low = text.lower()
    if not any(m in low for m in _ALL_MARKERS):
        return []
    found: list[Secret] = []
    for d in _DETECTORS:
        if not any(m in low for m in d.markers):
            continue
        matches = _assignments(text, low, d.pattern) if d is _ASSIGN else d.pattern.finditer(text)
        for m in matches:
            if d is _ASSIGN and not _assignment_ok(m):
                continue
            group = d.group
            if group == "s" and m.group("s") is None and "t" in d.pattern.groupindex:
                group = "t"
            start, end = m.span(group)
            if end > start and (
                d.kind == "a secret assignment"
                or not (d.free_form and _PLACEHOLDER.search(text[start:end]))
            ):
                found.append(Secret(start, end, d.kind))
    return _merge(found)


def _merge(found: list[Secret]) -> list[Secret]:
    found.sort(key=lambda s: (s.start, -s.end))
    merged: list[Secret] = []
    for s in found:
        if merged and s.start < merged[-1].end:
            last = merged[-1]
            if s.end > last.end:
                merged[-1] = Secret(last.start, s.end, last.kind)
            continue
        merged.append(s)
    return merged


def redact(text: str) -> str:
    """`text` with every secret replaced by `***REDACTED***` (prefixes like `user:` kept)."""
    if not isinstance(text, str):
        return text
    spans = find_secrets(text)
    if not spans:
        return text
    parts, pos = [], 0
    for s in spans:
        parts.append(text[pos : s.start])
        parts.append(MARKER)
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts)


def redact_data(value: object) -> object:
    """A JSON-like value (dicts, lists, strings) with `redact` applied to every string in it."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(k) if isinstance(k, str) else k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value


def redact_files(files: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The files with every secret redacted, and the names of the files that held one."""
    out, changed = {}, []
    for rel, text in files.items():
        out[rel] = redact(text)
        if out[rel] != text:
            changed.append(rel)
    return out, changed


def excerpt(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, redacted first (a cut must not hide a secret's shape)."""
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
