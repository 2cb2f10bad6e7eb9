"""What the tools protocol adds around the model: the time of a tool turn when the model
answers at once, and what resuming a conversation costs (replaying its code).

A model that answers instantly from a script (the same code every conversation) isolates the
protocol: parsing, the sandbox (opened once per conversation, one execution per turn),
observations, scoring and the run store's commit of every record.

- turn: conversations of 5 turns (4 turns running code, then the solution), 4 in flight, through
  the engine and a real run store; wall time over the turns played;
- conversation: the same wall time per conversation (a sandbox opened and closed each);
- resume: the same run with every record after turn 4 deleted, resumed: each conversation's
  sandbox is rebuilt by replaying 3 snippets and turn 4's code runs again before the last
  model call; wall time per resumed conversation.

Prints RESULT tools_turn_ms, tools_conversation_ms and tools_resume_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from turnscope.core import (
    Completion,
    GenerationParams,
    Item,
    Message,
    ModelIdentity,
    RunConfig,
    content_text,
)
from turnscope.protocols.interactive import check_sandbox
from turnscope.run import create_run, execute_run
from turnscope.store import STORE_FILE, RunStore

ANSWERS = (
    "<execute>values = list(range(1000))</execute>",
    "<execute>total = sum(values)\nprint(total)</execute>",
    "<execute>import math\nprint(math.isqrt(total))</execute>",
    "<execute>print(total % 97)</execute>",
    "<solution>499500</solution>",
)


class InstantModel:
    """Answers turn t with ANSWERS[t - 1] at once."""

    identity = ModelIdentity(backend="instant", model="script")
    max_concurrency: int | None = None

    async def preflight(self) -> None:
        return None

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        turn = sum(m.role == "assistant" for m in messages)
        return Completion(text=ANSWERS[min(turn, len(ANSWERS) - 1)])

    async def aclose(self) -> None:
        return None


def items(count: int) -> list[Item]:
    return [
        Item.model_validate(
            {
                "id": f"sum-{i}",
                "protocol": "tools",
                "setup": {"budget": len(ANSWERS)},
                "turns": [
                    {
                        "user": f"({i}) What is the sum of the numbers below 1000?",
                        "reference": "499500",
                        "scorers": [{"type": "numeric"}],
                    }
                ],
            }
        )
        for i in range(count)
    ]


async def timed_run(store: RunStore) -> float:
    started = time.perf_counter()
    await execute_run(store, InstantModel())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=40)
    args = parser.parse_args()
    check_sandbox()  # as `turnscope run` does before playing: the provider then checks once
    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(
            model="instant",
            suite="bench",
            conditions=("tools",),
            concurrency=4,
            use_cache=False,
            created_at=datetime.now(UTC),
        )
        store = create_run(config, items(args.conversations), Path(tmp))
        played = asyncio.run(timed_run(store))
        records = list(store.records())
        turns = len(records)
        assert turns == args.conversations * len(ANSWERS), turns
        assert all("499500" in content_text(r.new_messages[-1].content) for r in records[2::5])
        store.close()

        with sqlite3.connect(store.run_dir / STORE_FILE) as db:
            db.execute("DELETE FROM turns WHERE turn > 4")
        store = RunStore.open(store.run_dir)
        resumed = asyncio.run(timed_run(store))
        replayed = [r for r in store.records() if r.turn == 5]
        assert all("sandbox:replayed" in r.flags for r in replayed), "no replay happened"
        store.close()

    print(f"played {args.conversations} conversations, {turns} turns in {played:.2f} s")
    print(f"resumed {len(replayed)} conversations at turn 5 in {resumed:.2f} s")
    print(f"RESULT tools_turn_ms={played / turns * 1000:.1f}")
    print(f"RESULT tools_conversation_ms={played / args.conversations * 1000:.1f}")
    print(f"RESULT tools_resume_ms={resumed / len(replayed) * 1000:.1f}")


if __name__ == "__main__":
    main()
