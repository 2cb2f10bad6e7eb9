"""Adapters that load public benchmarks in their publishers' layouts."""

from turnscope.suites.adapters.instruction_following import (
    IFEVAL_HUB,
    MULTI_IF_HUB,
    ifeval_item,
    load_ifeval,
    load_multi_if,
    multi_if_item,
)
from turnscope.suites.registry import register_suite

register_suite(
    "ifeval",
    summary=f"IFEval, single turn (the baseline for Multi-IF): hub {IFEVAL_HUB} or a local "
    ".jsonl in its layout.",
    usage="ifeval[:PATH|OWNER/NAME]",
)(load_ifeval)
register_suite(
    "multi-if",
    summary=f"Multi-IF, three turns with accumulating instructions in eight languages: hub "
    f"{MULTI_IF_HUB} or a local .csv/.jsonl; add @LANGUAGE to keep one language.",
    usage="multi-if[:PATH|OWNER/NAME][@LANGUAGE]",
)(load_multi_if)

__all__ = [
    "IFEVAL_HUB",
    "MULTI_IF_HUB",
    "ifeval_item",
    "load_ifeval",
    "load_multi_if",
    "multi_if_item",
]
