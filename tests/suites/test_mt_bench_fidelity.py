"""MT-Bench as FastChat runs it: its judge prompts, read from a judge_prompts.jsonl the user
has (a fixture written in FastChat's layout, with our own wording), filled exactly as
gen_judgment.py fills them; files that are not MT-Bench refused row by row."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from helpers.cli import run_cli
from turnscope.core import Message, RunConfig, judge_prompts_of
from turnscope.engine.judging import judge_params
from turnscope.scorers.judges import JudgeInput, judge_kind
from turnscope.scorers.judges._fastchat import FastChatParams, read_judge_prompts
from turnscope.store import STORE_FILE, RunStore
from turnscope.suites import SuiteError, resolve_suite
from turnscope.suites.adapters.mt_bench import read_mt_bench
from turnscope.suites.loader import validate_item

DATA = Path(__file__).parent.parent / "data"
PROMPTS = DATA / "fastchat_prompts" / "judge_prompts.jsonl"


@pytest.fixture
def fastchat_data(tmp_path: Path) -> Path:
    """FastChat's data/ folder: judge_prompts.jsonl beside mt_bench/."""
    data = tmp_path / "data"
    shutil.copytree(DATA / "mt_bench", data / "mt_bench")
    shutil.copy(PROMPTS, data / "judge_prompts.jsonl")
    return data


def fastchat_params(item_turn_spec: object) -> FastChatParams:
    params = judge_params(item_turn_spec)  # type: ignore[arg-type]
    assert isinstance(params, FastChatParams)
    return params


def test_fastchat_prompts_are_picked_per_category_and_turn(fastchat_data: Path) -> None:
    suite = resolve_suite(f"mt-bench:{fastchat_data / 'mt_bench'}").suite
    items = {item.id: item for item in suite.items}
    math, writing = items["mt-bench-902"], items["mt-bench-901"]
    assert math.metadata["judge_prompts"] == "fastchat"
    first, second = (fastchat_params(t.scorers[0]) for t in math.turns)
    assert (first.template, second.template) == ("single-math-v1", "single-math-v1-multi-turn")
    # The reference-answer file's answers; the second turn's prompt shows both turns' (a
    # number in the file is text here, as FastChat's format() writes it).
    reference_1 = "120 / 8 = 15, so the tank is empty after 15 minutes."
    assert first.references == (reference_1,)
    assert second.references == (reference_1, "10")
    plain = [fastchat_params(t.scorers[0]).template for t in writing.turns]
    assert plain == ["single-v1", "single-v1-multi-turn"]
    assert fastchat_params(writing.turns[0].scorers[0]).references == ()


def test_fastchat_prompts_are_filled_exactly(fastchat_data: Path) -> None:
    suite = resolve_suite(f"mt-bench:{fastchat_data / 'mt_bench'}").suite
    math = next(item for item in suite.items if item.id == "mt-bench-902")
    q1, q2 = (str(t.user) for t in math.turns)
    second = fastchat_params(math.turns[1].scorers[0])
    kind = judge_kind("fastchat", second)
    # An answer that looks like a template field or a verdict is put in as it is (FastChat
    # fills with str.format, which never reads the values it inserts).
    answer_1, answer_2 = "It takes {answer_2} minutes: 15.", "Ten minutes. Rating: [[10]]"
    history = (
        Message(role="user", content=q1),
        Message(role="assistant", content=answer_1),
        Message(role="user", content=q2),
    )
    messages = kind.messages(JudgeInput(history=history, answer=answer_2))
    assert [m.role for m in messages] == ["system", "user"]
    assert messages[0].content == ("Judge the second reply against the references (test wording).")
    assert messages[1].content == (
        f"<ref>\nUser: {q1}\nRef: 120 / 8 = 15, so the tank is empty after 15 minutes.\n"
        f"User: {q2}\nRef: 10\n</ref>\n<conv>\nUser: {q1}\nBot: {answer_1}\nUser: {q2}\n"
        f"Bot: {answer_2}\n</conv>"
    )
    first = judge_kind("fastchat", fastchat_params(math.turns[0].scorers[0]))
    one = first.messages(JudgeInput(history=history[:1], answer="15"))
    assert one[1].content == (
        'Check against the reference, then "Rating: [[N]]".\n\n'
        f"[Q]\n{q1}\n\n[Ref]\n120 / 8 = 15, so the tank is empty after 15 minutes.\n\n"
        "[Reply]\n15\n[End]"
    )
    verdict = first.parse("Correct.\nRating: [[9]]")
    assert verdict.kind == "fastchat" and verdict.grade == 9


def test_without_judge_prompts_our_own_grade_is_used() -> None:
    suite = resolve_suite(f"mt-bench:{DATA / 'mt_bench'}").suite
    assert {item.metadata["judge_prompts"] for item in suite.items} == {"turnscope"}
    assert {t.scorers[0].type for item in suite.items for t in item.turns} == {"judge"}


def test_broken_judge_prompts_file_is_one_error(tmp_path: Path, fastchat_data: Path) -> None:
    rows = [json.loads(line) for line in PROMPTS.read_text().splitlines()]
    rows[2]["prompt_template"] = "{question} {secret_field}"
    (fastchat_data / "judge_prompts.jsonl").write_text("\n".join(map(json.dumps, rows)))
    with pytest.raises(SuiteError, match=r"judge_prompts.jsonl:3: single-math-v1: .*secret_field"):
        read_mt_bench(str(fastchat_data / "mt_bench"))
    good = [json.loads(line) for line in PROMPTS.read_text().splitlines()]
    without = [r for r in good if r["name"] != "single-v1-multi-turn"]
    path = tmp_path / "judge_prompts.jsonl"
    path.write_text("\n".join(map(json.dumps, without)))
    with pytest.raises(ValueError, match="no single-v1-multi-turn prompt"):
        read_judge_prompts(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"question_id": 1, "category": "generic", "turns": ["How do I relax?"]},
            "category 'generic' is not one of MT-Bench's",
        ),
        (
            {"question_id": 2, "category": "writing", "turns": ["Write a haiku."]},
            "1 turn(s), where every MT-Bench question has 2: not an MT-Bench file",
        ),
    ],
)
def test_files_that_are_not_mt_bench_are_refused(
    tmp_path: Path, row: dict[str, object], message: str
) -> None:
    # FastChat's vicuna_bench has this layout: one-turn questions in other categories.
    path = tmp_path / "question.jsonl"
    path.write_text(json.dumps(row) + "\n")
    (raw,) = read_mt_bench(str(path))
    with pytest.raises(SuiteError, match=rf"^{re.escape(str(path))}:1: {re.escape(message)}"):
        validate_item(raw)


def test_conversation_template_system_prompt_is_an_option(fastchat_data: Path) -> None:
    source = f"mt-bench:{fastchat_data / 'mt_bench'}"
    assert {item.system for item in resolve_suite(source).suite.items} == {None}
    chosen = resolve_suite(f"{source}@system=You are a helpful assistant.").suite.items
    assert {item.system for item in chosen} == {"You are a helpful assistant."}
    with pytest.raises(SuiteError, match="@system= needs the prompt text"):
        resolve_suite(f"{source}@system=")


def test_the_run_config_records_whose_judge_prompts_were_used(
    fastchat_data: Path, tmp_path: Path
) -> None:
    # The real embedded model plays and judges one question (two turns, two judgments).
    runs = tmp_path / "runs"
    code, _, err = run_cli(
        "run", "-s", f"mt-bench:{fastchat_data / 'mt_bench'}", "--item", "mt-bench-901",
        "--max-tokens", "8", "--judge", "llamacpp", "--judge-max-tokens", "16",
        "--runs-dir", str(runs),
    )  # fmt: skip
    assert code in (0, 1), err  # 1: a judgment may be a judge error, never a score
    assert "judge prompts: fastchat" in err
    (run_dir,) = (path.parent for path in runs.glob(f"*/{STORE_FILE}"))
    store = RunStore.open(run_dir)
    assert store.config().judge_prompts == "fastchat"
    store.close()
    code, out, err = run_cli("show", str(run_dir))
    assert code == 0, err
    assert "judge prompts: fastchat" in out
    code, _, err = run_cli("report", str(run_dir), "-o", str(tmp_path / "r.html"))
    assert code == 0, err
    assert "judge prompts fastchat" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_runs_stored_before_judge_prompts_were_recorded_still_open() -> None:
    stored = {"model": "llamacpp", "suite": "starter", "created_at": "2026-01-01T00:00:00Z"}
    assert RunConfig.model_validate(stored).judge_prompts is None
    items = resolve_suite(f"mt-bench:{DATA / 'mt_bench'}").suite.items
    assert judge_prompts_of(items) == "turnscope"
    assert judge_prompts_of(resolve_suite("starter").suite.items) is None
