"""The MINT adapter on small fixtures written in the authors' processed layout
(tests/data/mint: one test_prompts.json per task folder), and the `mint` scorer's checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers.cli import assert_clean_failure, run_cli
from helpers.sandbox import require_sandbox
from helpers.scripted import FixedFeedback, ScriptedModel, new_run, play
from turnscope.analysis.multiturn import analyse
from turnscope.core import Item, Message
from turnscope.protocols import ToolsProtocol
from turnscope.scorers import TurnView, score_turn
from turnscope.scorers.mint import chosen_letter, read_value, reasoning_match, theoremqa_match
from turnscope.suites import SuiteError, resolve_suite

DATA = Path(__file__).parent.parent / "data" / "mint"


def test_the_processed_layout_loads_with_unplayable_tasks_counted() -> None:
    loaded = resolve_suite(f"mint:{DATA}")
    ids = [item.id for item in loaded.suite.items]
    assert len(ids) == 10
    assert {item.category for item in loaded.suite.items} == {
        "gsm8k",
        "math",
        "mmlu",
        "theoremqa",
        "humaneval",
        "mbpp",
    }
    assert "mint-theoremqa-8" in ids and all(
        item.protocol == "tools" for item in loaded.suite.items
    )
    assert loaded.conditions == ("tools",) and loaded.max_tokens == 512
    assert loaded.left_out == {
        "MINT task alfworld: it needs the ALFWorld text-game environment, which turnscope does "
        "not run": 3,
        "MINT task hotpotqa: MINT gives it a Wikipedia search tool, which needs the network (the "
        "sandbox has none)": 2,
    }
    protocol = ToolsProtocol()
    assert all(protocol.budget(item) == 5 for item in loaded.suite.items)
    theorem = next(i for i in loaded.suite.items if i.id == "mint-theoremqa-3")
    assert str(theorem.turns[0].user).startswith("Answer the following question with a number")
    mbpp = next(i for i in loaded.suite.items if i.category == "mbpp")
    assert '"""' not in str(mbpp.turns[0].user) and protocol.spec(mbpp).tests is not None


def test_one_task_folder_or_file_loads_alone() -> None:
    assert len(resolve_suite(f"mint:{DATA / 'mmlu'}").suite.items) == 2
    single = resolve_suite(f"mint:{DATA / 'gsm8k' / 'test_prompts.json'}")
    assert [i.id for i in single.suite.items] == ["mint-gsm8k-0", "mint-gsm8k-1"]
    with pytest.raises(SuiteError, match="no MINT task here can be played"):
        resolve_suite(f"mint:{DATA / 'alfworld'}")


def reasoning_items() -> list[Item]:
    return [i for i in resolve_suite(f"mint:{DATA}").suite.items if i.turns[0].scorers]


def test_every_reference_passes_its_own_check() -> None:
    for item in reasoning_items():
        turn = item.turns[0]
        assert turn.reference is not None
        solution = turn.reference
        if item.category == "theoremqa":
            solution = json.dumps(json.loads(solution.replace("False", "false")))
            solution = {"false": "False", "true": "True"}.get(solution, solution)
        view = TurnView(item, 1, solution, (Message(role="user", content="x"),), "tools")
        (score,) = score_turn(view, turn.scorers)
        assert score.value == 1.0, (item.id, solution, score.detail)


async def test_code_tasks_pass_with_a_right_solution_and_fail_with_a_wrong_one() -> None:
    require_sandbox()
    protocol = ToolsProtocol()
    items = {i.category: i for i in resolve_suite(f"mint:{DATA}").suite.items}
    right = {
        "humaneval": "def count_vowels(text):\n    return sum(c in 'aeiouAEIOU' for c in text)",
        "mbpp": "def second_largest(xs):\n    return sorted(set(xs))[-2]",
    }
    for task, code in right.items():
        tests = protocol.spec(items[task]).tests
        assert tests is not None
        assert (await protocol.run_tests(code, tests)).value == 1.0
        wrong = await protocol.run_tests(code.replace("return", "return 1 +", 1), tests)
        assert wrong.value == 0.0 and "AssertionError" in (wrong.detail or "")


def write_task(root: Path, task: str, lines: list[str]) -> Path:
    folder = root / task
    folder.mkdir(parents=True)
    (folder / "test_prompts.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("task", "row", "message"),
    [
        ("gsm8k", '{"id": 1, "prompt": "How many?"}', "'reference' must be non-empty text"),
        ("gsm8k", '{"id": 1, "prompt": "How many?", "reference": "3"', "invalid JSON"),
        ("gsm8k", '{"prompt": "How many?", "reference": "3"}', "field 'id' must be"),
        (
            "mmlu",
            '{"id": 1, "prompt": "Pick.\\nOptions: A ) 1 , B ) 2", "reference": "e"}',
            "is not one of the options",
        ),
        (
            "theoremqa",
            '{"id": 1, "prompt": "Value?", "reference": 2, "answer_type": "matrix"}',
            "field 'answer_type' must be one of",
        ),
        ("humaneval", '{"id": 1, "prompt": "def f():", "reference": ""}', "'reference' must be"),
    ],
)
def test_a_bad_row_is_one_line_naming_file_task_and_row(
    tmp_path: Path, task: str, row: str, message: str
) -> None:
    good = '{"id": 0, "prompt": "What is 2 + 2?", "reference": "4"}'
    if task == "mmlu":
        good = '{"id": 0, "prompt": "Pick.\\nOptions: A ) 1 , B ) 2", "reference": "a"}'
    elif task == "theoremqa":
        good = '{"id": 0, "prompt": "Value?", "reference": 2, "answer_type": "integer"}'
    elif task == "humaneval":
        good = '{"id": 0, "prompt": "def f():", "reference": "assert f() == 1"}'
    write_task(tmp_path / "data", task, [good, row])
    code, _, err = run_cli("run", "-s", f"mint:{tmp_path / 'data'}", "--runs-dir", str(tmp_path))
    assert_clean_failure(code, err, message, single_line=True)
    assert f"{task}/test_prompts.json:2" in err and (f"MINT task {task}" in err or "JSON" in err)


def test_a_missing_path_and_an_empty_directory_are_one_line_errors(tmp_path: Path) -> None:
    code, _, err = run_cli("run", "-s", "mint", "--runs-dir", str(tmp_path))
    assert_clean_failure(code, err, "mint needs a path: mint:PATH", single_line=True)
    code, _, err = run_cli("run", "-s", f"mint:{tmp_path / 'nope'}", "--runs-dir", str(tmp_path))
    assert_clean_failure(code, err, "no such file or directory", single_line=True)
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli("run", "-s", f"mint:{tmp_path / 'empty'}", "--runs-dir", str(tmp_path))
    assert_clean_failure(code, err, "no MINT task folder here", single_line=True)


async def test_success_at_k_with_and_without_feedback(tmp_path: Path) -> None:
    """Played with a scripted model (exact answers at exact turns) under tools and
    tools-feedback: the analysis gives success at k = 1..5 for each, and the feedback gap."""
    require_sandbox()
    data = tmp_path / "mint"
    shutil.copytree(DATA / "gsm8k", data / "gsm8k")
    items = list(resolve_suite(f"mint:{data}").suite.items)
    model = ScriptedModel(
        {
            "7 trays": ["<execute>print(7 * 12 - 30)</execute>", "<solution>54</solution>"],
            "Mira": ["<solution>100</solution>"] * 3 + ["<solution>126</solution>"],
        }
    )
    coach = FixedFeedback(lambda messages: "Recount the second part of the reading.")
    store = new_run(tmp_path, items, ["tools", "tools-feedback"], feedback=True)
    await play(store, model, {"feedback": coach})
    analysis = analyse(list(store.records()), items)
    for condition in ("tools", "tools-feedback"):
        curve = analysis.success_at_k[condition]
        assert sorted(curve.by_k) == [1, 2, 3, 4, 5] and curve.errors == 0
        assert curve.by_k[1].mean == 0.0 and curve.by_k[2].mean == 0.5
        assert curve.by_k[4].mean == 1.0 and curve.by_k[4].low is not None
    assert analysis.gap("feedback − unary") is not None


@pytest.mark.parametrize(
    ("reference", "solution", "passed"),
    [
        ("54", "54", True),
        ("54", "55", True),  # within 5 % of 54, as MINT allows
        ("54", "58", False),
        ("9.0", "9", True),
        ("126", "126 pages", True),  # not a number as a whole: the reference is looked for
        ("yes", "No", False),
    ],
)
def test_reasoning_match(reference: str, solution: str, passed: bool) -> None:
    assert reasoning_match(reference, solution) is passed


@pytest.mark.parametrize(
    ("solution", "letter"),
    [("c", "c"), ("(C)", "c"), ("C.", "c"), ("The answer is c) 29", "c"), ("a) or b)", None)],
)
def test_option_letters(solution: str, letter: str | None) -> None:
    assert chosen_letter(solution) == letter


@pytest.mark.parametrize(
    ("reference", "answer_type", "solution", "passed"),
    [
        (1.811, "float", "1.81", True),
        (1.811, "float", "H = approximately 1.8 bits", True),
        (1.811, "float", "2.5", False),
        (3e8, "float", "3.0 \\times 10^8", True),
        ([3, 4, 6, 12], "list of integer", "[12, 6, 4, 3]", True),
        ([3, 4, 6, 12], "list of integer", "[3, 4, 6]", False),
        (False, "bool", "False", True),
        (False, "bool", "no", True),
        (7, "integer", "7.2", True),
        (7, "integer", "__import__('os').system('true')", False),
        (7, "integer", "9" * 400, False),
    ],
)
def test_theoremqa_match(reference: object, answer_type: str, solution: str, passed: bool) -> None:
    assert theoremqa_match(reference, answer_type, solution) is passed


def test_values_are_read_without_evaluating_code() -> None:
    assert read_value("(1, 2)") == [1, 2]
    assert read_value("open('/etc/passwd').read()") is None
    assert read_value("[" * 200 + "]" * 200) is None
