"""The secrets suite: a secret of each kind in each place; no output byte holds one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from secret_notebook import SECRETS, leaks, write_secret_notebook

from notebook2service.cli import main
from notebook2service.redact import MARKER, find_secrets, redact


@pytest.fixture
def planted(tmp_path):
    nb = tmp_path / "churn.ipynb"
    counts = write_secret_notebook(nb)
    return nb, counts


def _run(capsys, *argv: str) -> str:
    main(list(argv))
    out = capsys.readouterr()
    return out.out + out.err


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_every_output_byte_is_free_of_planted_secrets(planted, tmp_path, capsys, monkeypatch):
    nb, counts = planted
    monkeypatch.chdir(tmp_path)
    outputs: dict[str, bytes] = {}
    for fmt in ("text", "json", "sarif", "github"):
        outputs[f"lint --format {fmt}"] = _run(capsys, "lint", str(nb), "--format", fmt).encode()
    assert b"NB301" in outputs["lint --format text"]
    for fmt in ("text", "json"):
        out = tmp_path / f"pkg_{fmt}"
        text = _run(capsys, "convert", str(nb), "-o", str(out), "--format", fmt)
        outputs[f"convert --format {fmt}"] = text.encode()
        assert (out / "nb2svc.json").is_file(), text
        for rel, data in _tree_bytes(out).items():
            outputs[f"{out.name}/{rel}"] = data
        outputs[f"check-converted {fmt}"] = _run(
            capsys, "check-converted", str(out), "--format", fmt
        ).encode()
    found = {where: hits for where, data in outputs.items() if (hits := leaks(data))}
    scanned = sum(len(b) for b in outputs.values())
    print(
        f"secrets suite: {len(SECRETS)} secrets, {sum(counts.values())} plantings in "
        f"{len(counts)} places, {len(outputs)} outputs, {scanned} bytes scanned, "
        f"{len(found)} leaks"
    )
    assert found == {}
    assert len(outputs) > 10 and scanned > 10_000


def test_convert_says_where_secrets_were(planted, tmp_path):
    from notebook2service.convert import convert

    nb, _ = planted
    result = convert(str(nb), tmp_path / "pkg", write=False)
    assert MARKER in result.files["nb2svc.json"] or any(MARKER in t for t in result.files.values())
    names = {f.name for f in result.findings}
    assert {"hard-coded-secret", "secret-from-env", "secret-redacted"} <= names
    pipeline = next(t for rel, t in result.files.items() if rel.endswith("pipeline.py"))
    assert 'password = os.environ["PASSWORD"]' in pipeline
    assert 'DB_URL = os.environ["DB_URL"]' in pipeline
    compile(pipeline, "pipeline.py", "exec")
    assert any("PIP_INDEX_URL" in f.message for f in result.findings)


@pytest.mark.parametrize(
    "text, secret",
    [
        ("!curl -u admin:" + "Zz9qPw77x https://h", "Zz9qPw77x"),
        ("postgresql://admin:" + "pW0rd991@host/db", "pW0rd991"),
        ("mongodb+srv://u:" + "Qx81yyTT@cluster0/x", "Qx81yyTT"),
        ("Authorization: Bearer " + "abcDEF123456ghiJKL", "abcDEF123456ghiJKL"),
        (
            "requests.get(u, auth=('bob', 'x'), headers={'Authorization': 'Basic "
            + "Ym9iOnB3ZA=='})",
            "Ym9iOnB3ZA==",
        ),
        ("%env OPENAI_API_KEY=sk-" + "a" * 40, "sk-" + "a" * 40),
        ("connect(password=" + "'hunter2hunter')", "hunter2hunter"),
        ("mysql --password " + "s3cretVal -h db", "s3cretVal"),
        ("glpat-" + "x" * 20, "glpat-" + "x" * 20),
        ("xoxb-" + "1234567890-abcdef", "xoxb-1234567890-abcdef"),
    ],
)
def test_redact_hides_each_kind(text, secret):
    assert secret not in redact(text) and MARKER in redact(text)
    assert find_secrets(text)


@pytest.mark.parametrize(
    "text",
    [
        'password = os.environ["DB_PASSWORD"]',
        "max_tokens = 512",
        "tokenizer = AutoTokenizer.from_pretrained('bert-base')",
        "https://github.com/pandas-dev/pandas",
        "git@github.com:org/repo.git",
        "curl -u $USER:$PASS https://x",
        "postgresql://admin:${PW}@host/db",
        "secret_name = 'prod-db'",
        "password = getpass.getpass()",
    ],
)
def test_redact_keeps_ordinary_text(text):
    assert redact(text) == text


def test_nb301_catches_curl_and_url_credentials(tmp_path, capsys):
    from nbmake import notebook, write

    nb = write(
        tmp_path / "n.ipynb",
        notebook(
            "!curl -u admin:" + "S3cretPass https://x",
            'engine = create_engine("postgresql://admin:' + 'pw12345@host/db")',
        ),
    )
    out = _run(capsys, "lint", str(nb), "--format", "json")
    codes = [(d["code"], d["cell"]["index"]) for d in json.loads(out)]
    assert ("NB301", 1) in codes and ("NB301", 2) in codes
    assert "S3cretPass" not in out and "pw12345" not in out


def test_a_secret_parameter_is_read_from_the_environment(tmp_path):
    from nbmake import code, notebook, write

    from notebook2service.convert import convert

    secret = "Qm8" + "vZt2Lp9Xw4"
    cell = code(f'epochs = 3\ndb_password = "{secret}"', metadata={"tags": ["parameters"]})
    nb = write(tmp_path / "p.ipynb", notebook(cell, "print(epochs, len(db_password))"))
    result = convert(str(nb), tmp_path / "pkg", write=False)
    blob = "\n".join(result.files.values())
    assert secret not in blob and leaks(blob) == []
    assert 'db_password = os.environ["DB_PASSWORD"]' in blob
    assert "db_password" not in json.dumps(result.manifest.parameters)
    assert any("read from the environment" in f.message for f in result.findings)


AWS = "AKIA" + "ABCDEFGHIJKLMNOP"  # an AWS access key id's shape


def test_a_finding_read_from_a_file_is_redacted_keys_and_values():
    from notebook2service.findings import Finding

    f = Finding.from_dict({"code": "X", "message": f"key {AWS}", "args": {AWS: [AWS], "n": 1}})
    assert AWS not in json.dumps(f.to_dict()) and f.args[MARKER] == [MARKER]
    assert Finding.from_dict({"code": "X", "message": "m", "args": ["not", "a", "dict"]}).args == {}


def test_the_safety_net_redacts_what_reached_it_and_keeps_a_clean_manifest(tmp_path):
    from types import SimpleNamespace

    from notebook2service import convert as C
    from notebook2service.findings import note
    from notebook2service.manifest import Manifest

    clean = Manifest("0", "pkg", "nb.ipynb", findings=[note("convert", "n", "info", "ok")])
    package = SimpleNamespace(files={"a.py": "x = 1\n"})
    assert C._safety_net(clean, package) is clean  # nothing to hide: not rebuilt
    leaky = Manifest("0", "pkg", "nb.ipynb", notebook_path=f"{AWS}.ipynb", findings=clean.findings)
    package = SimpleNamespace(files={"a.py": f"key = '{AWS}'\n", "b.py": "y = 2\n"})
    safe = C._safety_net(leaky, package)
    assert AWS not in safe.dumps() + "".join(package.files.values())
    (warned,) = [f for f in safe.findings if f.name == "secret-redacted"]
    assert warned.args["files"] == ["a.py"] and "a.py, nb2svc.json" in warned.message


def test_a_template_field_after_a_secret_name_is_not_a_secret():
    """`page_token='{PAGE_TOKEN}` inside a longer f-string (a `!curl` line of a corpus
    notebook) was redacted up to the `}`, which left `{` unclosed: the generated pipeline.py
    no longer compiled. A `{NAME}` field is an interpolation, not a literal."""
    line = "shell(f\"curl {E}/c?'page_size='{SIZE}'&page_token='{PAGE_TOKEN} -H x\")"
    assert redact(line) == line
    compile(redact(line), "pipeline.py", "exec")
    assert MARKER in redact("page_token='ghp_4fQm2Lx9Tz7Wb1Kc8Vn3Ry6Hd5Js0Pa2Ge9M'")
