"""Each rule's documentation in four parts, the way ruff documents its rules: what it does,
why it matters, an example notebook (cells separated by `# %%`), and what to do instead.

`nb2svc rule CODE` prints one; `nb2svc rules` and the README's rules table are generated from
the registry (`rules.RULES`), whose `summary` is the table's text.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class RuleDoc:
    what: str
    why: str
    example: str
    instead: str


DOCS: dict[str, RuleDoc] = {
    "NB001": RuleDoc(
        "Reports a cell that cannot be parsed, even after IPython syntax (magics, `!` shell lines, "
        "`?` help) is translated to Python. The rest of the notebook is still checked.",
        "A cell that does not parse fails on Restart & Run All and cannot be converted; the "
        "names it would define are unknown to every other check.",
        "# %%\nfor i in range(3)\n    print(i)",
        "Fix the syntax error (here: the missing `:`).",
    ),
    "NB002": RuleDoc(
        "Reports a cell without an `id` in a notebook whose nbformat version (4.5 or later) "
        "requires one.",
        "Cell ids let tools (diffs, reviews, nb2svc's manifest) refer to a cell across edits; "
        "without them references fall back to positions, which move.",
        '# a cell saved as {"cell_type": "code", "source": "x = 1"} with no "id"',
        "Open and save the notebook in a current JupyterLab or run `nbformat`'s validator, "
        "which adds ids.",
    ),
    "NB003": RuleDoc(
        "Reports two cells that share an id.",
        "Ids must be unique: tools that follow a cell by id pick the wrong one.",
        '# two cells both saved with "id": "a1"',
        "Give one of them a new id (copying cells between notebooks by editing JSON does this).",
    ),
    "NB004": RuleDoc(
        "Reports a malformed cell (wrong type, missing source); it is skipped.",
        "A malformed cell is not run by Jupyter the way the file suggests, and is not checked.",
        '# {"cell_type": "code", "source": 42}',
        "Repair the cell in the JSON, or delete and re-create it in the editor.",
    ),
    "NB101": RuleDoc(
        "Reports saved execution counts that do not increase top-down.",
        "The saved outputs were produced in another order than the notebook reads; a reader "
        "and Restart & Run All see different results.",
        "# %% In[2]\nx = 1\n# %% In[1]\nprint(x)",
        "Restart the kernel and run all cells, then save (`nb2svc lint --fix` clears the counts).",
    ),
    "NB102": RuleDoc(
        "Reports a code cell that was never executed while cells below it were.",
        "Its effects are missing from the saved outputs, or the cell is dead code a reader "
        "thinks matters.",
        "# %% In[1]\nimport pandas as pd\n# %% (never run)\ndf = pd.read_csv('a.csv')\n# %% In[2]\nprint(1)",
        "Run it (Restart & Run All) or delete it.",
    ),
    "NB103": RuleDoc(
        "Reports a name read before the cell (or the line of the same cell) that defines it.",
        "It only works because an earlier run left the name in the kernel; Restart & Run All "
        "fails there with NameError, and so does the converted package.",
        "# %%\nprint(total)\n# %%\ntotal = 42",
        "Move the defining cell above the reading one (or the definition above the read).",
    ),
    "NB104": RuleDoc(
        "Reports a name that no cell defines; when the saved counts show a gap it names the "
        "missing `In[k]`.",
        "The definition lived in a deleted cell or only in the kernel: nobody can re-run the "
        "notebook from the file.",
        "# %% In[1]\nimport numpy as np\n# %% In[4]\ny = np.array(xs)",
        "Restore the definition (here: of `xs`) in a cell above its first use.",
    ),
    "NB105": RuleDoc(
        "Reports gaps in the saved execution counts.",
        "Mild on its own (cells re-run or deleted), but it explains NB104 findings and hints "
        "that the outputs come from a session the file does not describe.",
        "# %% In[1]\nx = 1\n# %% In[5]\nprint(x)",
        "Restart and run all before saving when the outputs matter.",
    ),
    "NB106": RuleDoc(
        "Replays the saved execution order and reports a read that resolves to another "
        "definition than in top-down order.",
        "The saved outputs were computed from other values than a top-down run computes.",
        "# %% In[1]\nx = 1\n# %% In[3]\nprint(x)\n# %% In[2]\nx = 2",
        "Restart and run all; if the later value is meant, move that cell up.",
    ),
    "NB107": RuleDoc(
        "Reports a later cell that mutates an object an earlier cell read.",
        "Re-running the earlier cell after the later one gives other results: the notebook "
        "depends on the order cells were run in.",
        "# %%\nitems = [1, 2, 3]\n# %%\ntotal = sum(items)\n# %%\nitems.append(4)",
        "Build the object completely before reading it, or copy it before changing it.",
    ),
    "NB108": RuleDoc(
        "Reports a cell that reads and rebinds (or mutates) the same name.",
        "Running it twice changes the result (`x = x + 1`), a common source of hidden state.",
        "# %%\ncount = count + 1",
        "Compute a new name from the old one (`count_after = count + 1`), or keep the whole "
        "computation in one cell from its start.",
    ),
    "NB109": RuleDoc(
        "Reports a cell edited after it ran: the source hash the JupyterLab extension recorded "
        "when it ran differs from its saved source.",
        "Its output, and the kernel state later cells used, come from code that is no longer "
        "in the notebook.",
        "# %% In[3] (ran as `x = 1`, then edited)\nx = 2",
        "Re-run the cell (and the cells after it).",
    ),
    "NB110": RuleDoc(
        "Reports a cell whose output comes from an earlier kernel session than the most recent "
        "run (the kernel was restarted and the cell not re-run).",
        "The output shows values the current session never computed.",
        "# %% session 1, In[1]\nprint(1)\n# %% session 2, In[1]\nx = 2",
        "Restart and run all before saving.",
    ),
    "NB201": RuleDoc(
        "Reports IPython magics and shell commands in code headed for production (`!pip "
        "install`, `%run`, `%%bash`, …); session-only magics such as `%matplotlib` are not "
        "reported.",
        "Plain Python cannot run them: a script or service needs a requirement, a subprocess "
        "call or a function instead.",
        "# %%\n!pip install pandas\n%run helpers.py",
        "Declare dependencies in requirements, import modules instead of `%run`, and call "
        "`subprocess.run` for real shell work (`nb2svc convert` does these rewrites).",
    ),
    "NB202": RuleDoc(
        "Reports notebook-only globals: `In`, `Out`, `_`, `_3`, `get_ipython()`, `display()`, "
        "`input()`.",
        "They exist only in an interactive IPython session; outside it they are undefined or "
        "block waiting for input.",
        "# %%\nresult = _ * 2\nname = input()",
        "Bind the value to a name (`result = value * 2`), and read input from parameters.",
    ),
    "NB203": RuleDoc(
        "Reports absolute or home-directory paths in string literals, judged by their form.",
        "They only exist on the author's machine; a container or a colleague's checkout fails.",
        "# %%\ndf = pd.read_csv('/Users/ana/data/train.csv')",
        "Use a path relative to the notebook or a parameter (`nb2svc convert` makes data "
        "reads SageMaker channels).",
    ),
    "NB204": RuleDoc(
        "Reports randomness without a seed (numpy, `random`, torch, TensorFlow, scikit-learn "
        "`random_state`).",
        "Every run gives other numbers: results cannot be reproduced and `nb2svc verify` "
        "cannot compare outputs.",
        "# %%\nimport numpy as np\nx = np.random.rand(3)",
        "Seed once (`rng = np.random.default_rng(0)`) or pass `random_state=0`.",
    ),
    "NB205": RuleDoc(
        "Reports star imports that nb2svc cannot follow: a library's, or a local module it "
        "cannot read. A local module's (`preamble.py` next to the notebook, or a file an "
        "earlier cell writes with `%%writefile`) is read statically and its names are known.",
        "They hide where names come from and switch off undefined-name checks (NB103/NB104).",
        "# %%\nfrom math import *\nprint(sqrt(2))",
        "Import the names you use (`from math import sqrt`).",
    ),
    "NB206": RuleDoc(
        "Reports a notebook saved with an error output.",
        "A reader cannot tell whether the error is expected; the notebook does not run "
        "top-down as saved.",
        "# %% (saved with a ZeroDivisionError traceback)\n1 / 0",
        "Fix the cell and re-run, or clear the output if the error is intended and explained.",
    ),
    "NB207": RuleDoc(
        "Reports a cell that creates a SageMaker resource billed until it is deleted (an "
        "endpoint from `.deploy()` or `create_endpoint`) when no cell of the notebook deletes it.",
        "An endpoint keeps its instances running, and billing, after the notebook is closed; "
        "a converted notebook must not create one as a side effect.",
        "# %% In[1]\nfrom sagemaker.sklearn import SKLearn\n"
        "est = SKLearn(entry_point='train.py', framework_version='1.2-1')\n"
        "est.fit({'train': 's3://bucket/train'})\n"
        "# %% In[2]\npredictor = est.deploy(initial_instance_count=1, instance_type='ml.m5.large')",
        "End the notebook with a cleanup cell (`predictor.delete_endpoint()`), and deploy with "
        "the generated `deploy.py` (`deploy.py delete` removes what it created).",
    ),
    "NB301": RuleDoc(
        "Reports hard-coded secrets (AWS keys, tokens, passwords) in code, shell lines or "
        "outputs; they are shown redacted, never copied.",
        "A notebook is shared, committed and rendered: a secret in it is leaked.",
        "# %%\ntoken = 'ghp_4fQm2Lx9Tz7Wb1Kc8Vn3Ry6Hd5Js0Pa2Ge9M'  # a (made-up) GitHub token",
        "Read secrets from the environment or a secrets manager, rotate the leaked one, and "
        "clear outputs that printed it.",
    ),
}


def rule_text(code: str) -> str:
    """One rule's documentation as `nb2svc rule CODE` prints it."""
    from .rules import RULES

    rule, doc = RULES[code], DOCS[code]
    fix = "; fixable with --fix" if rule.fixable else ""
    example = "\n".join("    " + line for line in doc.example.splitlines())
    return (
        f"{rule.code} {rule.name} ({rule.kind}, {rule.severity}{fix})\n\n"
        f"What it does\n{_wrap(doc.what)}\n\nWhy it matters\n{_wrap(doc.why)}\n\n"
        f"Example\n{example}\n\nInstead\n{_wrap(doc.instead)}\n"
    )


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=88, initial_indent="    ", subsequent_indent="    ")


def rules_table() -> str:
    """The README's rules table (markdown), from the registry."""
    from .rules import RULES

    rows = ["| code | kind | severity | what it finds |", "|---|---|---|---|"]
    rows += [f"| {r.code} | {r.kind} | {r.severity} | {r.summary} |" for r in RULES.values()]
    return "\n".join(rows) + "\n"
