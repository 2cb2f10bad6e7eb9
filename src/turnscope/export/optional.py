"""The optional packages some export formats need (the `export` extra)."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

EXTRA_HINT = "pip install 'turnscope[export]'"
NEWER_PYTHON = {"every_eval_ever": (3, 12)}
"""Packages of the extra that publish releases for newer Pythons only (the extra skips them
on older ones): the Python they need."""


class ExportError(ValueError):
    """An export cannot be made: a missing optional package, or an output it cannot write."""


def need(module: str, purpose: str) -> ModuleType:
    """Import `module`, or ExportError naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        needed = NEWER_PYTHON.get(top)
        if needed is not None and sys.version_info < needed:
            version = ".".join(map(str, needed))
            raise ExportError(
                f"{purpose} needs {top}, which needs Python {version} or newer (this is "
                f"{sys.version_info.major}.{sys.version_info.minor})"
            ) from None
        raise ExportError(f"{purpose} needs {top}: {EXTRA_HINT}") from None
