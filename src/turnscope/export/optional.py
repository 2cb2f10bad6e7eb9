"""The optional packages some export formats need (the `export` extra)."""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA_HINT = "pip install 'turnscope[export]'"


class ExportError(ValueError):
    """An export cannot be made: a missing optional package, or an output it cannot write."""


def need(module: str, purpose: str) -> ModuleType:
    """Import `module`, or ExportError naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise ExportError(f"{purpose} needs {top}: {EXTRA_HINT}") from None
