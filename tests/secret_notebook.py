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


def _code_lines(s: dict[str, str]) -> list[str]:
    return [
        f'aws_access_key_id = "{s["aws_key_id"]}"',
        f'aws_secret_access_key = "{s["aws_secret"]}"',
        f'gh_token = "{s["github"]}"',
        f'password = "{s["password"]}"',
        f'DB_URL = "postgresql://admin:{s["url_password"]}@db.internal:5432/prod"',
        f'os.system("curl -u admin:{s["curl_password"]} https://api.internal/x")',
        f'headers = {{"Authorization": "Bearer {s["bearer"]}"}}',
        f'PEM = "-----BEGIN RSA PRIVATE KEY-----\\n{s["private_key"]}\\n-----END RSA PRIVATE KEY-----"',
    ]


def _text_lines(s: dict[str, str]) -> list[str]:
    return [
        f"key id {s['aws_key_id']}",
        f"aws_secret_access_key={s['aws_secret']}",
        f"token {s['github']}",
        f"password={s['password']}",
        f"postgresql://admin:{s['url_password']}@db.internal/prod",
        f"curl -u admin:{s['curl_password']} https://api.internal",
        f"Authorization: Bearer {s['bearer']}",
        f"-----BEGIN RSA PRIVATE KEY-----\n{s['private_key']}\n-----END RSA PRIVATE KEY-----",
    ]


def _shell_lines(s: dict[str, str]) -> list[str]:
    return [
        f"!aws configure set aws_access_key_id {s['aws_key_id']}",
        f"!export AWS_SECRET_ACCESS_KEY={s['aws_secret']}",
        f"!git clone https://x:{s['github']}@github.com/o/r.git",
        f"!mysql --password {s['password']} -h db",
        f"!psql postgresql://admin:{s['url_password']}@db.internal/prod -c 'select 1'",
        f"!curl -u admin:{s['curl_password']} https://api.internal",
        f'!curl -H "Authorization: Bearer {s["bearer"]}" https://api.internal',
    ]


def _env_lines(s: dict[str, str]) -> list[str]:
    return [
        f"%env AWS_ACCESS_KEY_ID={s['aws_key_id']}",
        f"%env AWS_SECRET_ACCESS_KEY={s['aws_secret']}",
        f"%env GITHUB_TOKEN={s['github']}",
        f"%env DB_PASSWORD={s['password']}",
        f"%env DATABASE_URL=postgresql://admin:{s['url_password']}@db/prod",
        f"%env AUTH_HEADER=Authorization: Bearer {s['bearer']}",
    ]


def secret_cells(s: dict[str, str] = SECRETS) -> tuple[list[Any], dict[str, int]]:
    """The cells, and how many secrets each place holds."""
    text = _text_lines(s)
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
    params = [c for c in _code_lines(s) if "os.system" not in c]
    places = {
        "parameters cell": params,
        "markdown heading": [f"# Churn {t.splitlines()[0]}" for t in text[:7]],
        "markdown text": text,
        "code": _code_lines(s),
        "outputs (stream, result, error)": text,
        "shell lines": _shell_lines(s),
        "%env": _env_lines(s),
        "%%writefile": text,
        "pip index": [s["pip_token"]],
    }
    cells = [
        code("import os\n" + "\n".join(params), 1, metadata={"tags": ["parameters"]}),
        md(places["markdown heading"][0] + "\n\n" + "\n\n".join(text)),
        *[md(h) for h in places["markdown heading"][1:]],
        code("\n".join(_code_lines(s)) + "\nprint(len(password))", 2, [stream, result]),
        code("conn = connect(DB_URL)", 3, [traceback]),
        code("\n".join(_shell_lines(s)), 4),
        code("\n".join(_env_lines(s)), 5),
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
