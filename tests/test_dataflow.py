from nbmake import notebook

from notebook2service.dataflow import BUILTINS, analyze, analyze_cell
from notebook2service.notebook import Cell, from_dict


def flow_of(source):
    return analyze_cell(Cell(index=1, cell_type="code", source=source))


def names(uses):
    return sorted({u.name for u in uses} - BUILTINS)


def test_defines_reads_in_evaluation_order():
    f = flow_of("y = x + 1\nx = 2\nz = x")
    assert set(f.defs) == {"x", "y", "z"}
    assert names(f.uses) == ["x"]  # only the read before the binding is external


def test_every_binding_form():
    src = """
import os.path
import numpy as np
from a import b as c
for i, (j, k) in enumerate([]):
    pass
with open('f') as fh, open('g') as (gh):
    pass
try:
    pass
except ValueError as err:
    pass
if (n := 10) > 5:
    pass
class K: pass
def fn(): pass
async def afn(): pass
lam = lambda q: q
match 1:
    case {"a": m, **rest}: pass
    case [p, *others]: pass
"""
    f = flow_of(src)
    expected = {
        "os",
        "np",
        "c",
        "i",
        "j",
        "k",
        "fh",
        "gh",
        "n",
        "K",
        "fn",
        "afn",
        "lam",
        "m",
        "rest",
        "p",
        "others",
    }
    assert expected <= set(f.defs)
    assert "err" not in f.defs  # deleted at the end of the handler
    assert names(f.uses) == []


def test_comprehension_scope():
    f = flow_of("data = [d * factor for d in data if d]\nsq = {k: v for k, v in pairs}")
    assert names(f.uses) == ["data", "factor", "pairs"]
    assert "d" not in f.defs and "k" not in f.defs


def test_walrus_in_comprehension_binds_module_name():
    f = flow_of("ys = [last := v for v in vs]")
    assert "last" in f.defs


def test_mutations():
    src = """
df["x"] = 1
model.coef_ = 2
items.append(3)
d.update({})
frame.dropna(inplace=True)
arr[0] += 1
del cache["k"]
random.shuffle(deck)
est.fit(X, y)
"""
    f = flow_of(src)
    muts = {m.name: m.how for m in f.mutations}
    assert muts == {
        "df": "item assignment",
        "model": "attribute assignment",
        "items": ".append()",
        "d": ".update()",
        "frame": "inplace=True",
        "arr": "augmented assignment",
        "cache": "del",
        "deck": "shuffle()",
        "est": ".fit()",
    }
    assert {m.name for m in f.mutations if m.accumulating} == {"items", "d", "arr"}


def test_module_methods_are_not_mutations_of_modules():
    f = flow_of("import numpy as np\nnp.random.seed(0)\nos.environ.update({})")
    assert [m.name for m in f.mutations] == ["os"]


def test_deletes():
    f = flow_of("x = 1\ndel x\ndel y")
    assert set(f.deletes) == {"x", "y"}


def test_self_updates_graded():
    f = flow_of("data = [d * 10 for d in data]")
    assert [(u.name, u.strong) for u in f.self_updates] == [("data", True)]
    f = flow_of("df = df.dropna()")
    assert [(u.name, u.strong) for u in f.self_updates] == [("df", False)]
    f = flow_of("df = df.drop(columns=['a'])")
    assert [(u.name, u.strong) for u in f.self_updates] == [("df", True)]
    f = flow_of("total += 1")
    assert [(u.name, u.strong) for u in f.self_updates] == [("total", True)]
    f = flow_of("df['a'] = df['a'] * 2")
    assert [(u.name, u.strong) for u in f.self_updates] == [("df", True)]
    # not self-updates: a fresh value, or the name was bound in this cell first
    assert flow_of("df['b'] = df['a'] * 2").self_updates == []
    assert flow_of("x = load()\nx = x + 1").self_updates == []


def test_function_bodies_are_deferred():
    f = flow_of("def helper():\n    return plt.gca()\n")
    assert f.uses == []
    assert f.functions["helper"].free == {"plt"}


def test_function_free_names_ignore_locals_params_and_nested():
    src = """
def f(a, *args, k=default, **kw):
    b = a + g
    def inner():
        return b + h
    for i in range(3):
        pass
    import json
    return [x for x in args if x > limit], json, inner
"""
    f = flow_of(src)
    assert f.functions["f"].free - BUILTINS == {"g", "h", "limit"}
    assert names(f.uses) == ["default"]  # defaults are evaluated at definition


def test_global_statement_defines_at_call():
    nb = from_dict(
        notebook("def setup():\n    global config\n    config = 1", "setup()", "print(config)")
    )
    flow = analyze(nb)
    assert "config" in flow.defs_of(flow.cells[1])


def test_function_reads_resolved_when_called():
    nb = from_dict(
        notebook("def show():\n    plt.plot()", "import matplotlib.pyplot as plt", "show()")
    )
    flow = analyze(nb)
    call_cell = flow.expanded[3]
    assert [(u.name, u.via) for u in call_cell] == [("show", None), ("plt", "show")]


def test_class_body_reads_now_methods_later():
    f = flow_of("class M(Base):\n    size = N\n    def go(self):\n        return helper()\n")
    assert names(f.uses) == ["Base", "N"]
    assert f.functions["M"].free == {"helper"}


def test_lambda_assigned_is_deferred():
    f = flow_of("key = lambda r: r[col]")
    assert f.uses == [] and f.functions["key"].free == {"col"}
    f = flow_of("df.apply(lambda r: r * factor)")
    assert names(f.uses) == ["df", "factor"]


def test_string_literals_keep_their_context():
    f = flow_of(
        'password = "hunter22"\nconnect(user="bob", token="t0k")\ncfg = {"api_key": "abc"}\nx = f("utf-8")'
    )
    ctx = {(s.value, s.context) for s in f.strings}
    assert ("hunter22", "password") in ctx and ("t0k", "token") in ctx and ("abc", "api_key") in ctx
    assert ("utf-8", None) in ctx


def test_positions_map_back_through_magics():
    f = flow_of("for i in range(2):\n    %time y = undefined_name")
    use = [u for u in f.uses if u.name == "undefined_name"][0]
    assert (use.line, use.col) == (2, len("    %time y = "))


def test_nested_comprehension_sees_the_outer_targets():
    f = flow_of("table = {c: [str(c) + str(i) for i in ind] for c in cols}")
    assert names(f.uses) == ["cols", "ind"]
    nb = from_dict(
        notebook(
            "def make_df(cols, ind):\n    return {c: [str(c) + str(i) for i in ind] for c in cols}",
            "make_df('AB', [1, 2])",
        )
    )
    fn = analyze(nb).functions["make_df"][0]
    assert "c" not in fn.free
