"""The sharded and persona families: shards the audit can tell apart, answers that pass their
own checkers, a scripted user whose messages pass the audit, persona items judged per turn."""

from __future__ import annotations

import pytest

from turnscope.core import Item, Message
from turnscope.protocols import SimulatedProtocol, SimulatorView, audit_message, get_simulator
from turnscope.protocols.simulators import ScriptedUser, leaks_answer, shards_in
from turnscope.scorers import TurnView, score_turn
from turnscope.suites.builtin import PERSONA, Knobs, build, generate_item

PROTOCOL = SimulatedProtocol()


def sharded_items() -> list[Item]:
    return [
        generate_item("sharded", index, seed, Knobs(shards=n))
        for seed in (0, 1, 2)
        for index in range(12)
        for n in range(3, 9)
    ]


@pytest.mark.parametrize("shards", range(3, 9))
def test_shard_count_follows_the_knob(shards: int) -> None:
    item = generate_item("sharded", 0, 0, Knobs(shards=shards))
    spec = PROTOCOL.spec(item)
    assert len(spec.shards) == shards and item.metadata["shards"] == shards
    assert item.protocol == "simulated" and len(item.turns) == 1
    assert PROTOCOL.max_turns(item, "sharded") == shards + 2
    assert PROTOCOL.max_turns(item, "full") == PROTOCOL.max_turns(item, "concat") == 1


def test_every_reference_passes_its_checker_and_a_wrong_answer_fails() -> None:
    kinds = set()
    for item in sharded_items():
        kinds.add(item.metadata["task"])
        task = item.turns[0]
        assert task.reference is not None
        history = (Message(role="user", content=task.user),)
        right = score_turn(TurnView(item, 1, task.reference, history, "full"), task.scorers)
        assert [s.value for s in right] == [1.0], (item.id, task.reference, right)
        wrong = score_turn(TurnView(item, 1, "I am not sure.", history, "full"), task.scorers)
        assert [s.value for s in wrong] == [0.0], item.id
    assert kinds == {"arithmetic", "list", "date", "units"}


def test_each_shard_is_found_by_its_own_markers_only_and_none_states_the_answer() -> None:
    for item in sharded_items():
        spec = PROTOCOL.spec(item)
        for index, shard in enumerate(spec.shards):
            assert shard.markers, (item.id, index)
            assert shards_in(shard.text, spec) == {index}, (item.id, shard.text)
        assert not any(leaks_answer(s.text, item.turns[0].reference, spec) for s in spec.shards)
        # ... so a message that states the answer is caught.
        assert leaks_answer(f"It is {item.turns[0].reference}.", item.turns[0].reference, spec)


def test_the_scripted_user_passes_the_audit_on_every_generated_item() -> None:
    user = get_simulator("scripted-user")
    assert isinstance(user, ScriptedUser)
    for item in sharded_items()[::5]:
        spec = PROTOCOL.spec(item)
        revealed: tuple[frozenset[int], ...] = (frozenset(),)
        transcript: tuple[Message, ...] = ()
        for turn in range(1, len(spec.shards) + 2):
            view = SimulatorView(item, spec, turn, transcript, revealed)
            text = user.message(view)
            audit = audit_message(text, view, item.turns[0].reference)
            assert audit.findings == (), (item.id, turn, text, audit)
            if audit.stop:
                assert turn == len(spec.shards) + 1
                break
            revealed = (*revealed, audit.revealed)
            # A clarifying question from the target gets the template, then the shard.
            answer = "Could you tell me more?" if turn % 2 else "Noted."
            transcript = (
                *transcript,
                Message(role="user", content=text),
                Message(role="assistant", content=answer),
            )
        assert revealed[-1] == frozenset(range(len(spec.shards)))


def test_concat_lists_every_shard_and_full_is_the_whole_task() -> None:
    item = generate_item("sharded", 3, 0, Knobs(shards=5))
    spec = PROTOCOL.spec(item)
    full = str(item.turns[0].user)
    assert all(shard.text in full for shard in spec.shards)


def test_persona_items_put_the_persona_in_the_system_prompt_and_judge_every_turn() -> None:
    suite = build(PERSONA, 0)
    assert len(suite.items) == 8 and {i.category for i in suite.items} == {"persona"}
    for item in suite.items:
        assert item.system and item.protocol == "scripted"
        assert all([s.type for s in t.scorers] == ["persona"] for t in item.turns)
