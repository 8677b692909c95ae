"""pipeline.py's cell → line map (nb2svc.json `line_map["pipeline.py"]`) is taken from the tree
pipeline.py is built as, while it is generated. These tests read the written text on its own
(with `ast`, never with nb2svc's code) and check the map against it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from nbmake import md, notebook, write

from notebook2service.convert import convert

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"
_MARKER = re.compile(r"^\s*# cell (\d+)\b")


def _converted(path: Path, out: Path) -> tuple[list[str], list[dict], str]:
    result = convert(str(path), out, write=False)
    text = result.files[f"{result.package}/pipeline.py"]
    return text.split("\n"), result.manifest.line_map["pipeline.py"], text


def _statements(text: str) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """(the statements of the step functions' bodies that are cells' code, the module-level
    definitions and constants): what the map must cover."""
    tree = ast.parse(text)
    body, definitions = [], []
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):  # a constant moved to module level
            definitions.append(node)
            continue
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.FunctionDef) and node.name == "run":
            continue
        doc = ast.get_docstring(node)
        if isinstance(node, ast.FunctionDef) and doc and " — " in doc.split("\n")[0]:  # a step
            for stmt in node.body[1:]:
                if not isinstance(stmt, (ast.Global, ast.Return)):
                    body.append(stmt)
        else:
            definitions.append(node)
    return body, definitions


def _start(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", [])
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _check_against_text(lines: list[str], ranges: list[dict], text: str) -> None:
    body, definitions = _statements(text)
    starts = {_start(s) for s in body + definitions}
    ends = {s.end_lineno for s in body + definitions}
    previous_end = 0
    for r in ranges:
        # a range runs from the first line of one statement to the last line of one
        assert r["start"] in starts and r["end"] in ends, r
        assert r["start"] > previous_end, "ranges overlap"
        previous_end = r["end"]
        # the nearest `# cell N` above it (past its own comments) names the same cell
        above = r["start"] - 2
        while not _MARKER.match(lines[above]) and lines[above].strip()[:1] in ("#", ""):
            above -= 1
        assert _MARKER.match(lines[above]), (r, lines[above])
        assert int(_MARKER.match(lines[above]).group(1)) == r["cell"], (r, lines[above])
    # every statement of a cell in a step is in exactly one range
    for stmt in body:
        inside = [r for r in ranges if r["start"] <= _start(stmt) <= r["end"]]
        assert len(inside) == 1 and stmt.end_lineno <= inside[0]["end"], ast.unparse(stmt)


@pytest.mark.parametrize("name", sorted(p.stem for p in SAMPLES.glob("*.ipynb")))
def test_line_map_of_each_sample_is_the_emitted_text(name: str, tmp_path: Path) -> None:
    lines, ranges, text = _converted(SAMPLES / f"{name}.ipynb", tmp_path / "out")
    assert ranges, "no cell mapped"
    _check_against_text(lines, ranges, text)


# Each code cell k names what it binds `v<k>_...`; its first and last statements are one
# line, and computed (a literal would be a module-level constant, lift/constants.py). So a line holding `v<k>_` is cell k's code, and a range of cell k begins and ends
# on such a line.
CELLS = [
    md("# Load"),
    "# a cell's own comment\nimport json\nv2_a = len('a')\nv2_b = {\n    'k': [1,\n          2],\n}\nv2_c = len('abc')",
    "# only a comment: this cell has no code",
    "v4_x = (len('a') +\n  2)\n%time v4_t = sum(range(10))\nv4_y = \\\n  v4_x * 2\nv4_z = len('abcd')",
    "this is not python (",
    "v6_s = !echo hi\nfor v6_i in range(2):\n    !echo {v6_i}\n\nv6_l = len(v6_s)",
    md("# Transform"),
    "def v8_f(n):\n    return n + v2_a\n\n\nv8_r = v8_f(v4_z)",
    '%timeit v9_q = v8_r * 2\nv9_doc = repr("""a\nmulti-line\nstring""")\nv9_w = json.dumps(v2_b)',
    md("## Report"),
    "v11_m = (v2_c, v4_y, v6_l)\nwith open('/dev/null') as v11_fh:\n    v11_fh.write('x')\nv11_e = len('e')",
    "print(v11_m, v9_w, v9_doc, v11_e)",
]
_OWN = re.compile(r"\bv(\d+)_")


def _cells_of(line: str) -> set[int]:
    return {int(m) for m in _OWN.findall(line)}


def test_line_map_is_each_cells_code_on_a_notebook_with_magics_and_splits(tmp_path: Path) -> None:
    nb = write(tmp_path / "mixed.ipynb", notebook(*CELLS))
    lines, ranges, text = _converted(nb, tmp_path / "out")
    compile(text, "pipeline.py", "exec")
    _check_against_text(lines, ranges, text)
    mapped = {r["cell"] for r in ranges}
    assert mapped == {2, 4, 6, 8, 9, 11, 12}  # no range for the comment or unparsable cell
    for r in ranges:
        if r["cell"] == 12:
            continue  # print(...) reads the others' names
        first, last = lines[r["start"] - 1], lines[r["end"] - 1]
        assert r["cell"] in _cells_of(first) | _cells_of(last), (r, first, last)
    # a line in a cell's range holds that cell's names or earlier cells' (which it reads)
    for number, line in enumerate(lines, 1):
        inside = [r["cell"] for r in ranges if r["start"] <= number <= r["end"]]
        if inside and _cells_of(line):
            assert max(_cells_of(line)) <= inside[0], (number, line, inside)


def test_a_shifted_map_is_caught(tmp_path: Path) -> None:
    """The checks above fail for a map one line off: they can tell."""
    nb = write(tmp_path / "mixed.ipynb", notebook(*CELLS))
    lines, ranges, text = _converted(nb, tmp_path / "out")
    for delta in (-1, 1):
        shifted = [{**r, "start": r["start"] + delta, "end": r["end"] + delta} for r in ranges]
        with pytest.raises(AssertionError):
            _check_against_text(lines, shifted, text)


def test_each_range_begins_at_the_cells_first_statement(tmp_path: Path) -> None:
    nb = write(tmp_path / "mixed.ipynb", notebook(*CELLS))
    lines, ranges, _ = _converted(nb, tmp_path / "out")
    first: dict[int, str] = {}
    for r in ranges:
        first.setdefault(r["cell"], lines[r["start"] - 1].strip())
    assert first[2] == "v2_a = len('a')"  # after its own comment and the hoisted import
    assert first[4] == "v4_x = (len('a') +"  # not the comment-only or unparsable cell before it
    assert first[8] == "def v8_f(n):"  # a module-level definition, then the rest of the cell
    assert [lines[r["start"] - 1].strip() for r in ranges if r["cell"] == 8][
        1
    ] == "v8_r = v8_f(v4_z)"
    assert first[11] == "v11_m = (v2_c, v4_y, v6_l)"
    last = {r["cell"]: lines[r["end"] - 1].strip() for r in ranges}
    assert last[2] == "v2_c = len('abc')" and last[4] == "v4_z = len('abcd')"
    assert last[11] == "v11_e = len('e')"


def test_glue_lines_are_broken_before_they_grow_long(tmp_path: Path) -> None:
    """pipeline.py is not reformatted: the statements nb2svc writes (def lines, `global`,
    `return`, run()'s calls and namespace) are laid out within 100 characters as built."""
    names = [f"a_rather_long_variable_name_{i}" for i in range(12)]
    cells = [
        "\n".join(f"{n} = int('{i}')" for i, n in enumerate(names)),  # computed: not constants
        f"def total():\n    return {names[0]}",
        "print(total(), " + ", ".join(names) + ")",
    ]
    nb = write(tmp_path / "long.ipynb", notebook(*cells))
    lines, ranges, text = _converted(nb, tmp_path / "out")
    compile(text, "pipeline.py", "exec")
    _check_against_text(lines, ranges, text)
    mapped = {n for r in ranges for n in range(r["start"], r["end"] + 1)}
    glue = [ln for n, ln in enumerate(lines, 1) if n not in mapped and not ln.startswith("    #")]
    assert any(ln.strip().startswith("global ") for ln in glue)
    assert any(ln.strip().endswith(("(", "{")) for ln in glue)  # something was broken
    long = [ln for ln in glue if len(ln) > 100 and '"""' not in ln]
    assert long == []


def test_the_header_holds_any_title(tmp_path: Path) -> None:
    """The title (a markdown heading) goes into pipeline.py's docstring as it is."""
    title = 'Quotes """ and \\ backslash\x0b end"'
    nb = write(tmp_path / "t.ipynb", notebook(md(f"# {title}"), "x = 1"))
    _, ranges, text = _converted(nb, tmp_path / "out")
    assert ast.get_docstring(ast.parse(text), clean=False).split("\n")[0] == title
    assert [r["cell"] for r in ranges] == [2]
