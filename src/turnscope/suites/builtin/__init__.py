"""The built-in generated suite: seeded generators, one per family, and the named suites.

Importing this package registers the nine families: recollection, expansion, refinement,
follow-up, global-instruction, pushback, feedback, sharded, compute, hidden-rule and persona
(docs/builtin-suite.md)."""

from turnscope.suites.builtin import (  # noqa: F401  (each module registers its generator)
    compute,
    expansion,
    feedback,
    follow_up,
    global_instruction,
    hidden_rule,
    persona,
    pushback,
    recollection,
    refinement,
    sharded,
)
from turnscope.suites.builtin._base import (
    Draft,
    Generator,
    Knobs,
    families,
    generate_item,
    get_generator,
    item_seed,
    register_generator,
)
from turnscope.suites.builtin.suites import (
    CORE,
    FULL,
    PERSONA,
    RECIPES,
    Recipe,
    build,
    to_jsonl,
    write_jsonl,
)

__all__ = [
    "CORE",
    "FULL",
    "PERSONA",
    "RECIPES",
    "Draft",
    "Generator",
    "Knobs",
    "Recipe",
    "build",
    "families",
    "generate_item",
    "get_generator",
    "item_seed",
    "register_generator",
    "to_jsonl",
    "write_jsonl",
]
