"""turnscope: evaluate language models turn by turn in multi-turn conversations.

The Python API (`turnscope.evaluate`, `turnscope.suite`) is imported on first use, so that
`import turnscope` and `turnscope --version` stay instant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from turnscope.api import Evaluation, evaluate
    from turnscope.core import Item, Suite, Turn
    from turnscope.suites import suite

_LAZY = {
    "evaluate": "turnscope.api",
    "Evaluation": "turnscope.api",
    "suite": "turnscope.suites",
    "Item": "turnscope.core",
    "Turn": "turnscope.core",
    "Suite": "turnscope.core",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'turnscope' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["Evaluation", "Item", "Suite", "Turn", "__version__", "evaluate", "suite"]
