"""A notebook with a secret of each kind planted in each place, and the leak scanner.

The secrets are built from pieces so this file holds none of them whole. `leaks(blob)` reports
each secret found whole, or by any substring of 8 or more characters, in the given bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nbmake import code, md, notebook

SECRETS = {
    "aws_key_id": "AKIA" + "Q7XZ3M5N2P4R6T8V",
    "aws_secret": "q9Zt" + "Lm4Rw8Yp2Kd6Hs0Bv3Nc7Xf1Jg5Qa9Ue2Ti8Oo4",
    "github": "ghp_" + "Vb7Kq2Lm9Xz4Wt6Ry1Nc8Hs3Jd5Fg0Pa2Qe7U",
    "password": "Tr0ub" + "4dor&Zq93",
    "url_password": "pgW0rd" + "v9881Qz",
    "curl_password": "curlS3" + "cretK77",
    "bearer": "bearT0k" + "n4f8Zx2Qp6Lm1Rk9Wv3Y",
    "private_key": "MIIEpAIB" + "AAKCAQEAz3Kq8Lm2Xw9Rt5Yp1Nc7Hs4Jd6Fg0",
    "pip_token": "pipT0k" + "nYx8765Qr",
}


# How each place writes each secret: (code, text, shell line, %env line); None: not planted
# there. Rows are in the order the lines appear.
PLANTS = {
    "aws_key_id": (
        'aws_access_key_id = "{aws_key_id}"',
        "key id {aws_key_id}",
        "!aws configure set aws_access_key_id {aws_key_id}",
        "%env AWS_ACCESS_KEY_ID={aws_key_id}",
    ),
    "aws_secret": (
        'aws_secret_access_key = "{aws_secret}"',
        "aws_secret_access_key={aws_secret}",
        "!export AWS_SECRET_ACCESS_KEY={aws_secret}",
        "%env AWS_SECRET_ACCESS_KEY={aws_secret}",
    ),
    "github": (
        'gh_token = "{github}"',
        "token {github}",
        "!git clone https://x:{github}@github.com/o/r.git",
        "%env GITHUB_TOKEN={github}",
    ),
    "password": (
        'password = "{password}"',
        "password={password}",
        "!mysql --password {password} -h db",
        "%env DB_PASSWORD={password}",
    ),
    "url_password": (
        'DB_URL = "postgresql://admin:{url_password}@db.internal:5432/prod"',
        "postgresql://admin:{url_password}@db.internal/prod",
        "!psql postgresql://admin:{url_password}@db.internal/prod -c 'select 1'",
        "%env DATABASE_URL=postgresql://admin:{url_password}@db/prod",
    ),
    "curl_password": (
        'os.system("curl -u admin:{curl_password} https://api.internal/x")',
        "curl -u admin:{curl_password} https://api.internal",
        "!curl -u admin:{curl_password} https://api.internal",
        None,
    ),
    "bearer": (
        'headers = {{"Authorization": "Bearer {bearer}"}}',
        "Authorization: Bearer {bearer}",
        '!curl -H "Authorization: Bearer {bearer}" https://api.internal',
        "%env AUTH_HEADER=Authorization: Bearer {bearer}",
    ),
    "private_key": (
        'PEM = "-----BEGIN RSA PRIVATE KEY-----\\n{private_key}\\n-----END RSA PRIVATE KEY-----"',
        "-----BEGIN RSA PRIVATE KEY-----\n{private_key}\n-----END RSA PRIVATE KEY-----",
        None,
        None,
    ),
}
CODE, TEXT, SHELL, ENV = range(4)


def _lines(place: int, s: dict[str, str]) -> list[str]:
    """The lines of one place (CODE, TEXT, SHELL, ENV) with the secrets `s` planted."""
    rows = (templates[place] for templates in PLANTS.values())
    return [template.format(**s) for template in rows if template is not None]


def secret_cells(s: dict[str, str] = SECRETS) -> tuple[list[Any], dict[str, int]]:
    """The cells, and how many secrets each place holds."""
    text = _lines(TEXT, s)
    traceback = {
        "output_type": "error",
        "ename": "ConnectionError",
        "evalue": text[4],
        "traceback": [f"\x1b[0;31m{t}\x1b[0m" for t in text],
    }
    stream = {"output_type": "stream", "name": "stdout", "text": [t + "\n" for t in text]}
    result = {
        "output_type": "execute_result",
        "execution_count": 3,
        "metadata": {},
        "data": {"text/plain": repr("\n".join(text))},
    }
    params = [c for c in _lines(CODE, s) if "os.system" not in c]
    places = {
        "parameters cell": params,
        "markdown heading": [f"# Churn {t.splitlines()[0]}" for t in text[:7]],
        "markdown text": text,
        "code": _lines(CODE, s),
        "outputs (stream, result, error)": text,
        "shell lines": _lines(SHELL, s),
        "%env": _lines(ENV, s),
        "%%writefile": text,
        "pip index": [s["pip_token"]],
    }
    cells = [
        code("import os\n" + "\n".join(params), 1, metadata={"tags": ["parameters"]}),
        md(places["markdown heading"][0] + "\n\n" + "\n\n".join(text)),
        *[md(h) for h in places["markdown heading"][1:]],
        code("\n".join(_lines(CODE, s)) + "\nprint(len(password))", 2, [stream, result]),
        code("conn = connect(DB_URL)", 3, [traceback]),
        code("\n".join(_lines(SHELL, s)), 4),
        code("\n".join(_lines(ENV, s)), 5),
        code("%%writefile settings.cfg\n" + "\n".join(text) + "\n", 6),
        code(
            f"!pip install --index-url https://user:{s['pip_token']}@pypi.internal/simple "
            "scikit-learn",
            7,
        ),
        code(
            "from sklearn.linear_model import LogisticRegression\nmodel = LogisticRegression()", 8
        ),
    ]
    return cells, {k: len(v) for k, v in places.items()}


def write_secret_notebook(path: Path) -> dict[str, int]:
    cells, counts = secret_cells()
    path.write_text(json.dumps(notebook(*cells), indent=1), encoding="utf-8")
    return counts


def _needles(secret: str) -> set[str]:
    n = 8 if len(secret) >= 8 else len(secret)
    return {secret[i : i + n] for i in range(len(secret) - n + 1)}


def leaks(blob: str | bytes) -> list[tuple[str, str]]:
    """(secret name, piece) for each secret or 8-character piece of one in `blob` (any case)."""
    text = (blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob).lower()
    found = []
    for name, secret in SECRETS.items():
        for piece in sorted(_needles(secret.lower())):
            if piece in text or json.dumps(piece)[1:-1] in text:
                found.append((name, piece))
                break
    return found
