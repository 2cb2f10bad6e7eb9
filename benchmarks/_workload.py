"""Shared workload for the embedded-model benchmarks: seeded multi-turn conversations."""

from __future__ import annotations

import random

from turnscope.core import Item, ScorerSpec, Turn

_TOPICS = [
    "the ocean",
    "a small bakery",
    "mountain trains",
    "winter birds",
    "old maps",
    "a city library",
    "desert plants",
    "paper boats",
    "night markets",
    "river ferries",
]
_ASKS = [
    "Tell me one short fact about {topic}.",
    "Describe {topic} in two sentences.",
    "What is a common misconception about {topic}?",
    "Give me a one-line tip related to {topic}.",
    "Summarise what you said so far in one sentence.",
    "Name a word that goes well with {topic}.",
    "Why might someone care about {topic}?",
]


def conversations(count: int, turns: int, seed: int = 0) -> list[Item]:
    """`count` items of `turns` user turns each, different texts per item, reproducible."""
    rng = random.Random(seed)
    items = []
    for index in range(count):
        topic = _TOPICS[index % len(_TOPICS)]
        asks = [rng.choice(_ASKS).format(topic=topic) for _ in range(turns)]
        items.append(
            Item(
                id=f"bench-{index:03d}",
                system=f"You are a brief assistant. Conversation {index}.",
                turns=tuple(
                    Turn(
                        user=a,
                        scorers=(ScorerSpec.model_validate({"type": "regex", "pattern": r"\w"}),),
                    )
                    for a in asks
                ),
            )
        )
    return items
