"""How a sandbox reports that it cannot be used or has broken down."""

from __future__ import annotations


class SandboxUnavailable(ValueError):
    """The sandbox cannot run on this machine (tool missing, namespaces refused, unknown name).

    Its message is one line that says what to install or change; it is raised before a run
    starts, like a bad option."""


class SandboxError(RuntimeError):
    """The sandbox itself failed (the interpreter cannot be started, or used after close()).

    Never raised for anything the executed code does: that is an ExecutionResult."""
