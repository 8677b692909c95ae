"""Each rule: a notebook that triggers it, one that must not, and the message naming cells."""

from pathlib import Path

import pytest
from nbmake import codes, md, notebook

from notebook2service import lint

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"


def only(nb, code_, **kw):
    return [d for d in lint(nb, config=False, **kw) if d.code == code_]


# ---- hidden state ------------------------------------------------------------------------
def test_nb101_out_of_order_counts():
    nb = notebook(("a = 1", 1), ("b = a", 5), ("c = b", 3))
    (d,) = only(nb, "NB101")
    assert d.cell.index == 3 and d.cell.execution_count == 3
    assert "cell 3 (In[3]) ran before cell 2 (In[5])" in d.message and d.fixable


def test_nb101_in_order_is_clean():
    assert only(notebook(("a = 1", 1), ("b = a", 2), ("c = b", 7)), "NB101") == []


def test_nb102_unexecuted_between_executed():
    nb = notebook(("a = 1", 1), "b = 2", "# only a comment", ("c = a", 2))
    (d,) = only(nb, "NB102")
    assert d.cell.index == 2 and d.severity == "warning"


def test_nb102_not_for_stripped_notebooks():
    assert only(notebook("a = 1", "b = a"), "NB102") == []


def test_nb103_name_defined_only_later():
    nb = notebook(
        "import pandas as pd",
        "df2 = clean(df)",
        md("## later"),
        "def clean(x):\n    return x",
        "df = pd.DataFrame()",
    )
    found = {(d.cell.index, d.args["name"], d.args["later"]) for d in only(nb, "NB103")}
    assert {(c, n) for c, n, _ in found} == {(2, "clean"), (2, "df")}
    assert {later for _, _, later in found} <= {4, 5}


def test_nb103_read_before_defined_in_same_cell():
    (d,) = only(notebook("print(x)\nx = 1"), "NB103")
    assert (d.args["name"], d.args["same_cell"]) == ("x", 2)


def test_helper_using_a_later_import_is_fine_when_called_after():
    nb = notebook("def plot():\n    plt.plot([1])", "import matplotlib.pyplot as plt", "plot()")
    assert [d for d in lint(nb, config=False) if d.code in ("NB103", "NB104")] == []


def test_helper_called_before_the_import_it_needs():
    nb = notebook("def plot():\n    plt.plot([1])\nplot()", "import matplotlib.pyplot as plt")
    (d,) = only(nb, "NB103")
    assert (d.args["name"], d.args["via"], d.args["later"]) == ("plt", "plot", 2)
    assert "`plt` (read by `plot()`)" in d.message


def test_nb104_undefined_with_gap_names_missing_count():
    nb = notebook(("import numpy as np", 1), ("y = np.array(xs) * threshold", 4))
    found = only(nb, "NB104")
    assert {d.args["name"] for d in found} == {"xs", "threshold"}
    assert all(d.severity == "error" for d in found)
    assert all(d.args["missing"] == [2, 3] for d in found)
    assert "In[2], In[3] are missing" in found[0].message


def test_nb103_and_nb104_share_one_walk_of_the_reads(monkeypatch):
    from notebook2service.linter import hidden_state

    calls = []
    walk = hidden_state._unsatisfied_reads
    monkeypatch.setattr(
        hidden_state, "_unsatisfied_reads", lambda flow: calls.append(1) or walk(flow)
    )
    found = lint(notebook(("print(ghost)\nx = y", 2), ("y = 1", 3)), config=False)
    assert {(d.code, d.args["name"]) for d in found if d.code in ("NB103", "NB104")} == {
        ("NB104", "ghost"),
        ("NB103", "y"),
    }
    assert len(calls) == 1


def test_nb104_without_counts():
    (d,) = only(notebook("print(ghost)"), "NB104")
    assert "defined in no cell" in d.message and "In[" not in d.message


def test_nb104_deleted_name():
    (d,) = only(notebook("x = 1", "del x", "print(x)"), "NB104")
    assert d.args["name"] == "x" and d.args["deleted_in"] == 2 and d.related == (2,)
    assert "deleted in cell 2" in d.message


def test_nb104_quiet_when_names_may_come_from_star_import_or_run():
    assert only(notebook("from numpy import *", "a = array([1])"), "NB104") == []
    assert only(notebook("%run setup.py", "print(config)"), "NB104") == []


def test_builtins_and_ipython_names_are_not_undefined():
    nb = notebook("print(len([1]))\nx = __name__", "display(x)")
    assert only(nb, "NB104") == []


def test_names_from_unparseable_cell_are_not_reported_undefined():
    nb = notebook("print 'py2'\nlimit = 10", "y = limit + 1")
    assert codes(lint(nb, config=False)) == ["NB001"]


def test_nb105_gap_alone_is_info():
    nb = notebook(("a = 1", 1), ("b = a", 4))
    (d,) = only(nb, "NB105")
    assert d.severity == "info" and "In[2], In[3]" in d.message


def test_nb106_replay_divergence():
    # cell 3 ran (In[3]) after cell 4 (In[2]) rebound x; top-down it sees cell 2's x
    nb = notebook(("import math", 1), ("x = 1", 1), ("y = x + 1", 3), ("x = 100", 2))
    found = only(nb, "NB106")
    assert len(found) == 1 and found[0].cell.index == 3
    args = found[0].args
    assert (args["name"], args["saved"]["index"], args["topdown"]["index"]) == ("x", 4, 2)
    assert "cell 4 (In[2])" in found[0].message and "cell 2 (In[1])" in found[0].message


def test_nb106_none_when_saved_order_is_top_down():
    assert only(notebook(("x = 1", 1), ("y = x", 2), ("x = 2", 3)), "NB106") == []


def test_nb107_later_cell_mutates_what_an_earlier_cell_read():
    nb = notebook("items = []", "n = len(items)", "items.append(1)")
    (d,) = only(nb, "NB107")
    assert d.cell.index == 3 and d.args["readers"] == [2] and d.severity == "warning"
    assert "after cell 2 read it" in d.message


def test_nb107_display_only_readers_are_info():
    nb = notebook("df = make()", "df.head()", "df['x'] = 1")
    (d,) = only(nb, "NB107")
    assert d.severity == "info"


def test_nb107_not_after_rebinding():
    assert (
        only(notebook("items = []", "n = len(items)", "items = []\nitems.append(1)"), "NB107") == []
    )


def test_nb108_non_idempotent():
    (d,) = only(notebook("data = [1, 2]", "data = [d * 10 for d in data]"), "NB108")
    assert d.cell.index == 2 and d.severity == "warning"
    (d,) = only(notebook("df = load()", "df = df.dropna()"), "NB108")
    assert d.severity == "info"
    assert only(notebook("df = load()\ndf = df.dropna()"), "NB108") == []


# ---- production -------------------------------------------------------------------------
def test_nb201_ipython_syntax_but_not_session_magics():
    nb = notebook(
        "%matplotlib inline\n%load_ext autoreload",
        "!pip install xgboost==2.0",
        "%%bash\nls",
        "%run other.py",
        "x?",
    )
    found = only(nb, "NB201")
    assert [(d.cell.index, d.line) for d in found] == [(2, 1), (3, 1), (4, 1)]
    assert "requirements" in found[0].message


def test_nb202_notebook_only_globals():
    nb = notebook(
        "x = 1",
        "print(Out[1], _3)",
        "get_ipython().run_line_magic('ls', '')",
        "display(x)",
        "name = input()",
    )
    found = only(nb, "NB202")
    assert sorted({d.cell.index for d in found}) == [2, 3, 4, 5]
    # user-defined names are fine
    assert only(notebook("_ = 1", "print(_)", "def display(x): pass", "display(1)"), "NB202") == []


@pytest.mark.parametrize(
    "path, hit",
    [
        ("/home/alice/data.csv", True),
        ("/Users/bob/Desktop/x.parquet", True),
        ("C:\\\\Users\\\\me\\\\file.csv", True),
        ("~/datasets/train.csv", True),
        ("/content/drive/MyDrive/data.csv", True),
        ("/srv/share/archive/2020/report.xlsx", True),
        ("data/train.csv", False),
        ("/api/v1/predict", False),
        ("/opt/ml/model", False),
        ("/tmp/scratch.txt", False),
        ("https://example.com/a/b.csv", False),
        ("s3://bucket/key.csv", False),
    ],
)
def test_nb203_paths_by_form(path, hit):
    nb = notebook(f'df = read("{path}")')
    assert bool(only(nb, "NB203")) == hit


def test_nb204_unseeded_randomness():
    nb = notebook(
        "import numpy as np\nimport random\nfrom sklearn.model_selection import train_test_split\n"
        "from sklearn.ensemble import RandomForestClassifier",
        "a = np.random.rand(3)\nb = random.choice([1, 2])",
        "X_tr, X_te = train_test_split(X)\nclf = RandomForestClassifier(n_estimators=10)",
        "rng = np.random.default_rng()",
    )
    found = only(nb, "NB204")
    assert [(d.cell.index, d.line) for d in found] == [(2, 1), (2, 2), (3, 1), (3, 2), (4, 1)]


def test_nb204_seeded_is_clean():
    nb = notebook(
        "import numpy as np\nimport random\nnp.random.seed(0)\nrandom.seed(0)",
        "from sklearn.model_selection import train_test_split as tts",
        "a = np.random.rand(3)\nb = random.choice([1])\nX_tr, X_te = tts(X)",
        "rng = np.random.default_rng(42)",
        "from sklearn.ensemble import RandomForestClassifier\nclf = RandomForestClassifier(random_state=1)",
    )
    assert only(nb, "NB204") == []


def test_nb205_star_import():
    (d,) = only(notebook("from pylab import *"), "NB205")
    assert "from pylab import *" in d.message


def test_nb206_stored_error():
    err = {"output_type": "error", "ename": "KeyError", "evalue": "'w'", "traceback": []}
    (d,) = only(notebook(("x = {}['w']", 3, [err])), "NB206")
    assert "KeyError: 'w'" in d.message and d.cell.execution_count == 3


# ---- security ---------------------------------------------------------------------------
FAKE_AWS_ID = "AKIA" + "ABCDEFGHIJKLMNOP"
FAKE_AWS_SECRET = "q8Zr2Lw0Tn5VbXc1Mk9Pd3Hs7Gf4Jy6" + "Ru2WeQa0Ti"


def test_nb301_secrets_flagged_never_copied():
    nb = notebook(
        f'aws_access_key_id = "{FAKE_AWS_ID}"\naws_secret_access_key = "{FAKE_AWS_SECRET}"',
        'conn = connect(user="bob", password="hunter2!")',
        f"!export AWS_SECRET_ACCESS_KEY={FAKE_AWS_SECRET}",
        "# token: ghp_" + "a" * 36,
    )
    found = only(nb, "NB301")
    assert [(d.cell.index, d.line) for d in found] == [(1, 1), (1, 2), (2, 1), (3, 1), (4, 1)]
    assert all(d.kind == "security" and d.severity == "error" for d in found)
    text = " ".join(d.message for d in found)
    assert FAKE_AWS_ID not in text and FAKE_AWS_SECRET not in text and "hunter2!" not in text


def test_nb301_placeholders_and_lookups_are_fine():
    nb = notebook(
        'password = os.environ["DB_PASSWORD"]',
        'api_key = "<your-api-key>"',
        'token = os.getenv("TOKEN", "")',
        'vec = CountVectorizer(token_pattern=r"(?u)\\b\\w+\\b")',
        'access_token = resp.decode("utf-8")',
        'client_secret = "my-client-secret"',
        'NGC_API_KEY = "[nvidia-ngc-api-key]"',
        "AUTH_TOKEN = !gcloud auth print-access-token",
    )
    assert only(nb, "NB301") == []


def test_nb301_in_outputs():
    out = {"output_type": "stream", "name": "stdout", "text": [f"key={FAKE_AWS_ID}\n"]}
    (d,) = only(notebook(("print(k)", 1, [out])), "NB301")
    assert "output" in d.message and FAKE_AWS_ID not in d.message


# ---- structure --------------------------------------------------------------------------
def test_nb001_syntax_error_and_rest_still_checked():
    nb = notebook("x = (", "print(undefined_thing)")
    found = lint(nb, config=False)
    assert [(d.code, d.cell.index) for d in found] == [("NB001", 1), ("NB104", 2)]
    assert found[0].kind == "syntax"


def test_nb002_nb003_ids():
    nb = notebook("a = 1", "b = a", "c = b")
    nb["cells"][1]["id"] = nb["cells"][0]["id"]
    del nb["cells"][2]["id"]
    found = [(d.code, d.cell.index) for d in lint(nb, config=False)]
    assert ("NB003", 2) in found and ("NB002", 3) in found


def test_missing_ids_are_fine_before_nbformat_4_5():
    assert lint(notebook("a = 1", minor=4), config=False) == []


# ---- the bundled hidden-state sample -----------------------------------------------------
def test_hidden_state_sample_finds_each_planted_problem():
    found = {(d.code, d.cell.index) for d in lint(SAMPLES / "hidden_state.ipynb", config=False)}
    expected = {
        ("NB101", 6),
        ("NB102", 12),
        ("NB103", 8),
        ("NB104", 6),
        ("NB105", 5),
        ("NB106", 8),
        ("NB107", 11),
        ("NB108", 5),
        ("NB204", 14),
        ("NB206", 15),
    }
    assert expected <= found, expected - found


@pytest.mark.parametrize(
    "name",
    [
        "churn_classification",
        "parameterized_training",
        "magics_and_shell",
        "house_prices_regression",
    ],
)
def test_clean_samples_have_no_errors(name):
    found = lint(SAMPLES / f"{name}.ipynb", config=False)
    assert [d for d in found if d.severity == "error"] == []
