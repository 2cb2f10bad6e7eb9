"""feedback: a verifiable task with a turn budget k, played by the feedback protocol; after a
wrong attempt the user says only that it is wrong, or (hint variant) gives a hint."""

from __future__ import annotations

import random

from turnscope.protocols.feedback import FeedbackSpec
from turnscope.suites.builtin._base import Draft, Knobs, register_generator, task_turn
from turnscope.suites.builtin._tasks import HARD_TASKS

RETRY = "That is not right. Try again. Reply with the number only."
HINTED = "That is not right. {hint} Try again. Reply with the number only."


class Feedback:
    """One turn (the task) with budget k attempts. Knobs: budget, hints (hints go from vague
    to precise: parity, a range, the last digit; later wrong attempts get the bare retry)."""

    family = "feedback"

    def generate(self, rng: random.Random, knobs: Knobs) -> Draft:
        task = rng.choice(HARD_TASKS)(rng)
        hints = (
            tuple(HINTED.format(hint=h) for h in task.hints[: knobs.budget - 1])
            if knobs.hints
            else ()
        )
        spec = FeedbackSpec(budget=knobs.budget, retry=RETRY, hints=hints)
        return Draft(
            [task_turn(task)],
            {
                "budget": knobs.budget,
                "hints": knobs.hints,
                "probe_turns": list(range(1, knobs.budget + 1)),
            },
            protocol="feedback",
            setup=spec.model_dump(mode="json", exclude_defaults=True),
        )


register_generator(Feedback())
