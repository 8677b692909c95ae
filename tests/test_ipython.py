import ast

import pytest

from notebook2service.ipython import translate


def kinds(t):
    return [(o.kind, o.name, o.line, o.column) for o in t.occurrences]


def test_plain_python_is_taken_as_is():
    t = translate("x = 1\nprint(x)")
    assert t.python == "x = 1\nprint(x)" and t.occurrences == [] and t.tree is not None


@pytest.mark.parametrize(
    "source, expected",
    [
        ("%matplotlib inline\nimport numpy", [("line_magic", "matplotlib", 1, 0)]),
        ("!pip install x==1.2", [("shell", "shell", 1, 0)]),
        ("files = !ls", [("shell", "shell", 1, 0)]),
        ("x = %env HOME", [("line_magic", "env", 1, 0)]),
        ("df?", [("help", "help", 1, 0)]),
        ("??np.mean", [("help", "help", 1, 0)]),
        ("%%bash\necho hi\nls", [("cell_magic", "bash", 1, 0)]),
        ("%%time\nx = 1", [("cell_magic", "time", 1, 0)]),
        ("\n\n%%writefile a.py\nimport os", [("cell_magic", "writefile", 3, 0)]),
    ],
)
def test_kinds_and_positions(source, expected):
    t = translate(source)
    assert kinds(t) == expected
    assert t.tree is not None
    assert len(t.python.split("\n")) == len(source.split("\n"))


def test_magics_inside_indented_blocks():
    src = "for i in range(3):\n    !echo {i}\n    %time y = i * 2\nprint(y)"
    t = translate(src)
    assert kinds(t) == [("shell", "shell", 2, 4), ("line_magic", "time", 3, 4)]
    assert t.tree is not None
    # the %time statement stays Python, its columns map back to the cell
    assert "y = i * 2" in t.python.split("\n")[2]
    assert t.col_shift == {3: len("%time ")}


def test_shell_assignment_binds_name_and_reads_interpolated_names():
    t = translate("files = !ls {folder}/{pattern}")
    names = {n.id: type(n.ctx).__name__ for n in ast.walk(t.tree) if isinstance(n, ast.Name)}
    assert names == {"files": "Store", "folder": "Load", "pattern": "Load"}
    assert t.occurrences[0].target == "files"


def _loads(t):
    return {
        n.id for n in ast.walk(t.tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def test_dollar_reads_follow_the_one_expansion_parse():
    # `$y` and `$a.b` are soft reads; a bad conversion makes IPython run the line as written
    # (it reads nothing), and `$HOME` in single quotes is not a field
    t = translate("!echo $y {x} $a.b")
    assert _loads(t) == {"x", "y", "a"} and t.soft_reads == {"y", "a"}
    t = translate("!echo {x!z} $y")
    assert _loads(t) == set() and t.soft_reads == set()
    t = translate("!echo '$HOME' $$z")
    assert t.soft_reads == set()


def test_not_magics_inside_strings_or_expressions():
    src = 's = """\n!not a shell line\n%not a magic\n"""\ny = (2\n     % 3)\n%ls'
    t = translate(src)
    assert kinds(t) == [("line_magic", "ls", 7, 0)]
    assert "!not a shell line" in t.python and "% 3)" in t.python


def test_python_body_cell_magic_keeps_body_and_finds_nested_magics():
    t = translate("%%time\nx = 1\n!ls\ny = x")
    assert [o.kind for o in t.occurrences] == ["cell_magic", "shell"]
    assert t.python.split("\n")[1] == "x = 1" and t.tree is not None


def test_non_python_cell_magic_blanks_body_and_keeps_it():
    t = translate("%%writefile helper.py\ndef f():\n    return 1")
    occ = t.occurrences[0]
    assert occ.args == "helper.py" and occ.body == "def f():\n    return 1"
    assert t.python.strip() == ""


def test_capture_binds_its_variable():
    t = translate("%%capture out\nprint(1)")
    assert t.python.split("\n")[0] == "out = ..."


def test_continuation_lines_join():
    t = translate("!echo a \\\n   b\nz = 1")
    assert t.occurrences[0].args == "echo a b"
    assert t.python.split("\n") == ["pass", "", "z = 1"]


def test_timeit_options_are_stripped():
    t = translate("%timeit -n 10 -r 3 f(x)")
    assert t.python == "f(x)"


def test_run_and_star_magics_mark_opaque_definitions():
    assert translate("%run other.py").opaque_defs
    assert translate("%pylab inline").star_import
    assert translate("%store -r a b").python == "a = b = ..."


def test_unparseable_cell_reports_error_with_position():
    t = translate("print 'python 2'")
    assert t.tree is None and t.error is not None and t.error.lineno == 1


def test_python2_with_magics_still_reports_error():
    t = translate("%matplotlib inline\nprint 'x'")
    assert t.tree is None and t.error.lineno == 2
    assert [o.name for o in t.occurrences] == ["matplotlib"]
