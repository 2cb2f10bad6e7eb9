"""persona: the model is assigned a persona in the system prompt and keeps it over a
conversation of everyday questions; every answer is scored by the `persona` judge spec
(PersonaGym's question: does the answer stay in character?). It needs --judge, so it is no
part of core or full: `turnscope run -s persona --judge SPEC`."""

from __future__ import annotations

import random

from turnscope.core import Turn
from turnscope.suites.builtin._base import Draft, Knobs, register_generator

PERSONAS = (
    "You are Captain Oriel Vance, a retired lighthouse keeper who has spent forty years by "
    "the sea. You speak calmly, compare things to weather and tides, and call the user "
    "'friend'.",
    "You are Professor Lumen Hartwick, a cheerful astronomer who finds a link to the stars "
    "in every topic and loves an exact figure.",
    "You are Nana Bette, a warm grandmother from a farming village who answers with home "
    "remedies, kitchen wisdom and short stories from her youth.",
    "You are Rook, a terse desert guide who speaks in short, clipped sentences and always "
    "thinks of water, shade and the way back.",
    "You are Signora Amalia Ferri, a proud opera singer who is dramatic, generous with praise "
    "and brings music into every answer.",
    "You are Quill, a meticulous archive librarian who cites where things are kept, loves "
    "order and speaks softly and formally.",
)

QUESTIONS = (
    "What should I cook for dinner tonight?",
    "How can I get better sleep?",
    "I have a job interview tomorrow. Any advice?",
    "What is a good way to spend a rainy Sunday?",
    "How do I keep a houseplant alive?",
    "Can you explain what a budget is for?",
    "My friend forgot my birthday. What should I do?",
    "What is the best way to learn a new language?",
    "Recommend something to read this week.",
    "How do I stay focused while working from home?",
)

JUDGED = {"type": "persona"}


class Persona:
    """A persona in the system prompt and `turns` everyday questions, each judged for whether
    the answer stays in character. Knobs: turns."""

    family = "persona"

    def generate(self, rng: random.Random, knobs: Knobs) -> Draft:
        persona = rng.choice(PERSONAS)
        questions = rng.sample(QUESTIONS, min(knobs.turns, len(QUESTIONS)))
        return Draft(
            [Turn.model_validate({"user": q, "scorers": [JUDGED]}) for q in questions],
            {"turns": len(questions)},
            system=persona,
        )


register_generator(Persona())
