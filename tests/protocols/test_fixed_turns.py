"""Fixed assistant turns: MT-Bench-101's setup turns and MT-Eval's `do_inference: false` turns
are put into the history, never requested, never recorded. A recording fake server shows the
exact message lists each condition sends (fixtures in the publishers' layouts)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from helpers.servers import FakeOpenAIServer
from turnscope.core import GenerationParams, Item, RunConfig, Turn
from turnscope.models import BackendOptions, create_client
from turnscope.protocols import get_protocol
from turnscope.run import create_run, execute_run
from turnscope.store import RunStore
from turnscope.suites import resolve_suite

DATA = Path(__file__).parent.parent / "data" / "fixed_turns"

pytestmark = pytest.mark.timeout(120)


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def bot(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


async def play(
    items: tuple[Item, ...], conditions: tuple[str, ...], tmp_path: Path
) -> tuple[list[tuple[list[dict[str, Any]], str]], RunStore]:
    """Play `items` against the fake server; every request's messages with its answer, in
    order (one conversation at a time), and the run store."""
    with FakeOpenAIServer() as fake:
        config = RunConfig(
            model=f"openai:fake@{fake.base_url}",
            suite="fixed-turns",
            params=GenerationParams(max_tokens=8),
            conditions=conditions,
            concurrency=1,
            use_cache=False,
            created_at=datetime.now(UTC),
        )
        store = create_run(config, items, tmp_path / "runs")
        client = create_client(config.model, BackendOptions())
        try:
            await execute_run(store, client)
        finally:
            await client.aclose()
        sent = [(e.messages, e.answer or "") for e in fake.exchanges]
    return sent, store


def sent_after(sent: list[tuple[list[dict[str, Any]], str]], first: str) -> list[Any]:
    """The requests of the conversations that open with user text `first`."""
    return [(m, a) for m, a in sent if m[0]["content"] == first]


def assert_history_is_rebuilt(store: RunStore, items: tuple[Item, ...], sent: list[Any]) -> None:
    """What the judge pass and `show` rebuild from the store is exactly what was sent."""
    by_id = {item.id: item for item in items}
    requests = [m for m, _ in sent]
    for record in store.records():
        item = by_id[record.item_id]
        turns = store.finished_turns(record.item_id, record.condition, record.sample)
        history = get_protocol("scripted").history(item, record.condition, turns, record.turn)
        assert [m.model_dump(exclude_none=True) for m in history] in requests


async def test_mt_bench_101_setup_turns_are_fixed_under_own_and_gold(tmp_path: Path) -> None:
    loaded = resolve_suite(f"mt-bench-101:{DATA / 'mtbench101.jsonl'}")
    assert loaded.conditions == ("gold",)  # the authors' golden context is the default
    items = loaded.suite.items
    correction = items[0]
    assert correction.turns[0].assistant == "A spider has six legs."
    assert correction.turns[0].scorers == () and correction.turns[1].scorers
    sent, store = await play(items, ("own", "gold"), tmp_path)
    try:
        spider = sent_after(sent, "How many legs does a spider have?")
        # Never requested: only turn 2 is asked, under each condition, after the authors'
        # deliberately wrong first answer (own and gold alike).
        expected = [
            user("How many legs does a spider have?"),
            bot("A spider has six legs."),
            user("That is wrong, isn't it? Please check."),
        ]
        assert [m for m, _ in spider] == [expected, expected]
        (own_1, own_2, gold_1, gold_2) = [m for m, _ in sent_after(sent, items[1].turns[0].user)]
        answer_1 = sent_after(sent, items[1].turns[0].user)[0][1]
        assert own_1 == gold_1 == [user("Tom is taller than Ann. Who is shorter?")]
        assert own_2 == [*own_1, bot(answer_1), user("Ann is taller than Bo. Who is the tallest?")]
        assert gold_2 == [*own_1, bot("Ann is shorter."), own_2[-1]]
        records = list(store.records())
        assert sorted((r.item_id, r.condition, r.turn) for r in records if "501" in r.item_id) == [
            ("mt-bench-101-SC-501", "gold", 2),
            ("mt-bench-101-SC-501", "own", 2),
        ]
        assert_history_is_rebuilt(store, items, sent)
    finally:
        store.close()


async def test_mt_eval_own_is_gold_for_fixed_turns_and_own_for_answered_ones(
    tmp_path: Path,
) -> None:
    items = resolve_suite(f"mt-eval:{DATA / 'mt_eval'}").suite.items
    follow_up, global_inst = sorted(items, key=lambda i: i.id)
    assert [t.fixed for t in follow_up.turns] == [True, True, False, False]
    sent, store = await play(items, ("own", "gold"), tmp_path)
    try:
        opening = [
            user("Describe a quiet harbour town in two sentences."),
            bot("Gulls circle over moored boats. Old houses lean toward the water."),
            user("Name one food sold on its quay."),
            bot("Smoked mackerel."),
            user("Why might visitors like that food?"),
        ]
        (own_3, own_4, gold_3, gold_4) = sent_after(sent, opening[0]["content"])
        # Turn 4 sees gold-gold-own under own (MT-Eval's main setting), gold-gold-gold under
        # gold; turns 1 and 2 are never requested.
        assert own_3[0] == opening and gold_3[0] == opening
        assert own_4[0] == [*opening, bot(own_3[1]), user("Suggest a drink to go with it.")]
        assert gold_4[0] == [*opening, bot("It is fresh and local."), own_4[0][-1]]

        # The global-instruction dialogue: the instruction turn is fixed; its answered turns
        # have no reference, so gold cannot play it (said in the plan), own can.
        assert global_inst.turns[0].assistant == "Understood. I will not use commas."
        (turn_2, turn_3) = sent_after(sent, "From now on, never use a comma in your replies.")
        instruction = [user(global_inst.turns[0].user), bot("Understood. I will not use commas.")]
        assert turn_2[0] == [*instruction, user("List three colours.")]
        assert turn_3[0] == [*turn_2[0], bot(turn_2[1]), user("Which of them is warmest?")]
        assert len(sent) == 6
        assert_history_is_rebuilt(store, items, sent)
    finally:
        store.close()


def test_fixed_turn_rules() -> None:
    with pytest.raises(ValidationError, match="cannot have scorers"):
        Turn(user="hi", assistant="hello", scorers=({"type": "contains", "value": "x"},))
    with pytest.raises(ValidationError, match="nothing to answer"):
        Item(id="all-fixed", turns=(Turn(user="hi", assistant="hello"),))
    item = Item(
        id="mixed",
        system="Be brief.",
        turns=(Turn(user="Say hi.", assistant="Hi."), Turn(user="Again?", reference="Hi again.")),
    )
    scripted = get_protocol("scripted")
    assert scripted.max_turns(item, "own") == 1
    assert scripted.skip_reason(item, "gold") is None  # a fixed turn needs no reference
    assert scripted.skip_reason(item, "single") == (
        "fixed assistant turns cannot be merged into one user prompt"
    )


def test_a_min_aggregate_item_scores_its_weakest_turn() -> None:
    turns = (Turn(user="a", assistant="set up"), Turn(user="b"), Turn(user="c"))
    scripted = get_protocol("scripted")
    weakest = Item(id="weakest", turns=turns, metadata={"aggregate": "min"})
    mean = Item(id="mean", turns=turns)
    values = {2: 0.9, 3: 0.3}
    assert scripted.conversation_score(weakest, "gold", values) == 0.3
    assert scripted.conversation_score(mean, "gold", values) == pytest.approx(0.6)
    assert scripted.conversation_score(weakest, "gold", {2: 0.9, 3: None}) == 0.9
