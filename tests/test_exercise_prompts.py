"""Static checks of the exercises' wording (no notebook is executed).

- The prompt names, in backticks, every function and variable that the solution defines and the check reads
  (a function with its call signature, `name(args)`).
- An assert message in a check cell formats only the student's values (names the solution defines, and what the
  check computes from them), the inputs the check hands to the student's functions, or its loop variables (the
  case being tested); never a value the check or the lesson computes on its own (the reference answer), and no
  literal "should be 45" style answer.
- A check whose student function takes tensors compares an input with a copy taken before the call, so that an
  in-place edit of an argument is caught.
- No line of a solution (between BEGIN and END SOLUTION, longer than 25 characters, not a comment) appears
  verbatim in a cell of the same notebook outside the exercises: the answer must not be copyable from the lesson.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import exercise_mutations as em  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISE_TAGS = {em.SOLUTION_TAG, em.WRONG_TAG, em.CHECK_TAG}
# student functions whose arguments are never tensors (sizes, floats, a callable, a model): no in-place check needed
NO_TENSOR_ARGS = {"grid_integral", "find_padding", "overlap_1d", "expected_noisy_psnr", "my_causal_mask", "my_schedule",
                  "sample_at_temperature"}
ANSWER_WORDS = re.compile(r"\b(expected|should be|should equal|should give|must be|must equal|must give|"
                          r"answer is|correct value is|instead of)\s*[:=]?\s*[-+(\[]?\d", re.I)
SHAPE_CALLS = {"tuple", "len", "list"}


def parse(source: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError:  # IPython syntax (magics): turn it into Python first
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))


def target_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def loaded_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def top_level_definitions(source: str) -> tuple[set[str], set[str]]:
    """(functions, variables) that a solution cell defines outside any function body."""
    funcs, variables = set(), set()

    def visit(stmts):
        for st in stmts:
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                funcs.add(st.name)
                continue
            if isinstance(st, ast.Assign):
                for t in st.targets:
                    variables.update(target_names(t))
            elif isinstance(st, (ast.AnnAssign, ast.AugAssign)):
                variables.update(target_names(st.target))
            elif isinstance(st, (ast.For, ast.AsyncFor)):
                variables.update(target_names(st.target))
            elif isinstance(st, (ast.With, ast.AsyncWith)):
                for item in st.items:
                    if item.optional_vars is not None:
                        variables.update(target_names(item.optional_vars))
            for field in ("body", "orelse", "finalbody"):
                visit(getattr(st, field, []) or [])

    visit(parse(source).body)
    return funcs, variables


def assigned_anywhere(tree: ast.AST) -> set[str]:
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
    return names


def prompt_text(nb, ex: em.Exercise) -> str:
    """The markdown from the exercise's '### Exercise' heading down to its solution cell."""
    start = ex.solution
    while start > 0 and not (nb.cells[start].cell_type == "markdown" and "### Exercise" in nb.cells[start].source):
        start -= 1
    return "\n".join(c.source for c in nb.cells[start:ex.solution] if c.cell_type == "markdown")


def named_in_backticks(name: str, text: str, function: bool) -> bool:
    spans = re.findall(r"`([^`]+)`", text)
    pattern = rf"(?<![\w.]){re.escape(name)}\s*\(" if function else rf"(?<![\w.]){re.escape(name)}\b"
    return any(re.search(pattern, s) for s in spans)


def prompt_problems(nb, label: str = "") -> list[str]:
    problems = []
    for ex in em.exercises(nb):
        funcs, variables = top_level_definitions(nb.cells[ex.solution].source)
        check = parse(nb.cells[ex.check].source)
        read = loaded_names(check) - assigned_anywhere(check)
        text = prompt_text(nb, ex)
        for name in sorted((funcs | variables) & read):
            if not named_in_backticks(name, text, name in funcs):
                what = f"`{name}(...)` with its arguments" if name in funcs else f"`{name}`"
                problems.append(f"{label}exercise checked in cell {ex.check}: the check reads {name}, but the prompt "
                                f"does not name {what}")
    return problems


def message_nodes(tree: ast.AST):
    """(line, message expression) of every assert message and `raise AssertionError(message)`."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Assert) and n.msg is not None:
            yield n.lineno, n.msg
        elif (isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call) and isinstance(n.exc.func, ast.Name)
              and n.exc.func.id == "AssertionError" and n.exc.args):
            yield n.lineno, n.exc.args[0]


def student_values(check: ast.Module, student: set[str]) -> tuple[set[str], set[str]]:
    """(tainted, given): names whose value comes from the student's code; inputs handed to the student's functions
    and loop variables of the check (the case under test)."""
    tainted = set(student)
    flows = []  # (sources, targets)
    for n in ast.walk(check):
        if isinstance(n, ast.Assign):
            if (len(n.targets) == 1 and isinstance(n.targets[0], ast.Tuple) and isinstance(n.value, ast.Tuple)
                    and len(n.targets[0].elts) == len(n.value.elts)):   # a, b = f(x), g(x): pair them up
                flows.extend((v, [t]) for t, v in zip(n.targets[0].elts, n.value.elts))
            else:
                flows.append((n.value, [*n.targets]))
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign)) and n.value is not None:
            flows.append((n.value, [n.target]))
        elif isinstance(n, (ast.For, ast.AsyncFor, ast.comprehension)):
            flows.append((n.iter, [n.target]))
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            flows.append((n, [ast.Name(id=n.name, ctx=ast.Store())]))
        elif isinstance(n, ast.NamedExpr):
            flows.append((n.value, [n.target]))
    changed = True
    while changed:
        changed = False
        for src, targets in flows:
            if loaded_names(src) & tainted:
                new = set().union(*(target_names(t) for t in targets)) - tainted
                if new:
                    tainted |= new
                    changed = True
    given = set()
    for n in ast.walk(check):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in student:
            for a in [*n.args, *(k.value for k in n.keywords)]:
                given |= loaded_names(a)
        elif isinstance(n, (ast.For, ast.AsyncFor, ast.comprehension)):
            given |= target_names(n.target)
    return tainted, given - tainted


def formatted_values(node: ast.AST):
    for n in ast.walk(node):
        if isinstance(n, ast.FormattedValue):
            yield n.value


def plain_given(expr: ast.AST, given: set[str]) -> bool:
    """A bare input/loop variable, or its shape or length: the case under test, not an answer."""
    if isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, ast.Name):
        return expr.id in given
    if isinstance(expr, ast.Subscript):
        return plain_given(expr.value, given) and not loaded_names(expr.slice) - given
    if isinstance(expr, ast.Attribute) and expr.attr == "shape":
        return plain_given(expr.value, given)
    if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in ("tolist", "item")
            and not expr.args):
        return plain_given(expr.func.value, given)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in SHAPE_CALLS:
        return len(expr.args) == 1 and plain_given(expr.args[0], given)
    if isinstance(expr, ast.IfExp):  # e.g. {'z_a' if t == 0 else 'z_b'}
        return plain_given(expr.body, given) and plain_given(expr.orelse, given) and not loaded_names(expr.test) - given
    return False


def message_problems(nb, label: str = "") -> list[str]:
    problems = []
    for ex in em.exercises(nb):
        funcs, variables = top_level_definitions(nb.cells[ex.solution].source)
        check = parse(nb.cells[ex.check].source)
        tainted, given = student_values(check, funcs | variables)
        for line, msg in message_nodes(check):
            where = f"{label}check cell {ex.check}, line {line}"
            literal = " ".join(c.value for c in ast.walk(msg) if isinstance(c, ast.Constant) and isinstance(c.value, str))
            if m := ANSWER_WORDS.search(literal):
                problems.append(f"{where}: the message states the answer ('{m.group(0)}...')")
            for value in formatted_values(msg):
                if loaded_names(value) & tainted or plain_given(value, given):
                    continue
                problems.append(f"{where}: the message prints {{{ast.unparse(value)}}}, a value computed without the "
                                "student's code (the reference answer?)")
    return problems


def inplace_problems(nb, label: str = "") -> list[str]:
    problems = []
    for ex in em.exercises(nb):
        funcs, _ = top_level_definitions(nb.cells[ex.solution].source)
        check_src = nb.cells[ex.check].source
        called = {n.func.id for n in ast.walk(parse(check_src))
                  if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in funcs}
        if called - NO_TENSOR_ARGS and not re.search(r"torch\.equal\(|np\.array_equal\(", check_src):
            problems.append(f"{label}check cell {ex.check} calls {sorted(called - NO_TENSOR_ARGS)} but never compares "
                            "an argument with a copy taken before the call (in-place edits go unnoticed)")
    return problems


def solution_lines(source: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        s = line.strip()
        if s.startswith("### BEGIN SOLUTION"):
            inside = True
        elif s.startswith("### END SOLUTION"):
            inside = False
        elif inside and len(s) > 25 and not s.startswith("#"):
            lines.append(s)
    return lines


def verbatim_problems(nb, label: str = "") -> list[str]:
    lesson = [(i, c.source) for i, c in enumerate(nb.cells) if not EXERCISE_TAGS & set(c.metadata.get("tags", []))]
    problems = []
    for ex in em.exercises(nb):
        for s in solution_lines(nb.cells[ex.solution].source):
            for i, src in lesson:
                if s in src:
                    problems.append(f"{label}solution cell {ex.solution}: '{s}' is shown verbatim in cell {i}")
    return problems


CHECKS = {"prompt": prompt_problems, "message": message_problems, "inplace": inplace_problems,
          "verbatim": verbatim_problems}


@pytest.mark.parametrize("kind", sorted(CHECKS))
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_exercises(path, kind):
    nb = nbformat.read(path, as_version=4)
    assert em.exercises(nb), f"{path.name}: no exercises found"
    problems = CHECKS[kind](nb, f"{path.name}: ")
    assert not problems, "\n".join(problems)


# --- the checks above can fail: a small synthetic notebook, good, then spoiled one way at a time -------------

GOOD = {
    "lesson": "def triple(x):\n    return 3 * x\n\nprint(triple(2))",
    "prompt": "### Exercise 1: double\nWrite `double(x)` for a tensor `x`, and store `double(torch.ones(2))` in "
              "`twos`.",
    "solution": "def double(x):\n    ### BEGIN SOLUTION\n    return x + x.clone().mul(1)\n    ### END SOLUTION\n\n\n"
                "twos = double(torch.ones(2))",
    "check": "x_in = torch.arange(3.0)\nbefore = x_in.clone()\nref = 2 * x_in\ngot = double(x_in)\n"
             "assert torch.equal(x_in, before), 'double changed its input in place'\n"
             "assert (got == ref).all(), f'double({x_in.tolist()}) gave {got.tolist()}: add x to itself?'\n"
             "assert tuple(twos.shape) == (2,), f'twos has shape {tuple(twos.shape)}: double a (2,) tensor'\n"
             "for k in (1, 2):\n    assert double(torch.full((k,), 1.0)).sum() == 2 * k, f'wrong for k={k}'",
}
SPOILED = {
    "prompt": ("prompt", "### Exercise 1: double\nWrite a function that doubles its input.", "does not name `double(...)`"),
    "prompt_variable": ("prompt", "### Exercise 1: double\nWrite `double(x)` for a tensor `x`.", "does not name `twos`"),
    "prompt_signature": ("prompt", "### Exercise 1: double\nWrite `double` and `twos`.", "does not name `double(...)`"),
    "message_reference": ("check", GOOD["check"].replace("add x to itself?'", "expected {ref.tolist()}'"),
                          "prints {ref.tolist()}"),
    "message_computed": ("check", GOOD["check"].replace("add x to itself?'", "not {(2 * x_in).tolist()}'"),
                         "prints {(2 * x_in).tolist()}"),
    "message_literal": ("check", GOOD["check"] + "\nassert double(torch.tensor(2.0)) == 4, 'the result should be 4'",
                        "states the answer"),
    "message_raise": ("check", GOOD["check"] + "\nif (got - ref).abs().max() > 0:\n"
                      "    raise AssertionError(f'the answer is {ref}')", "prints {ref}"),
    "inplace": ("check", GOOD["check"].replace("assert torch.equal(x_in, before), 'double changed its input in place'\n",
                                                ""), "never compares"),
    "verbatim": ("lesson", GOOD["lesson"] + "\n\n\ndef f(x):\n    return x + x.clone().mul(1)", "shown verbatim"),
}


def synthetic(parts: dict[str, str]):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(parts["lesson"]), nbformat.v4.new_markdown_cell(parts["prompt"]),
                nbformat.v4.new_code_cell(parts["solution"], metadata={"tags": ["solution"]}),
                nbformat.v4.new_raw_cell("# WRONG: returns x\ndef double(x):\n    return x",
                                         metadata={"tags": ["wrong_answer"]}),
                nbformat.v4.new_raw_cell("# WRONG: in place\ndef double(x):\n    return x.mul_(2)",
                                         metadata={"tags": ["wrong_answer"]}),
                nbformat.v4.new_code_cell(parts["check"], metadata={"tags": ["check"]})]
    return nb


def all_problems(nb) -> list[str]:
    return [p for check in CHECKS.values() for p in check(nb)]


def test_synthetic_good_exercise_passes():
    assert all_problems(synthetic(GOOD)) == []


@pytest.mark.parametrize("case", sorted(SPOILED))
def test_synthetic_spoiled_exercise_fails(case):
    part, source, expected = SPOILED[case]
    problems = all_problems(synthetic({**GOOD, part: source}))
    assert problems and any(expected in p for p in problems), problems
