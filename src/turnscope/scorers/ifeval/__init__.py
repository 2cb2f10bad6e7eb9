"""The IFEval family of verifiable-instruction checkers, strict and loose.

Instruction ids and keyword-argument names are those of the reference implementation
(google-research's instruction_following_eval, shipped in lm-eval), so IFEval and Multi-IF
rows load unchanged. See docs/ifeval.md for the semantics and the measured agreement.
"""

from turnscope.scorers.ifeval._api import (
    INSTRUCTION_IDS,
    build,
    check,
    check_both,
    check_built,
    describe,
    loose_variants,
    validate,
)
from turnscope.scorers.ifeval._base import CheckContext, Instruction, InstructionError

__all__ = [
    "INSTRUCTION_IDS",
    "CheckContext",
    "Instruction",
    "InstructionError",
    "build",
    "check",
    "check_both",
    "check_built",
    "describe",
    "loose_variants",
    "validate",
]
