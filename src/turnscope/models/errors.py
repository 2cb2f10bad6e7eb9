"""How a backend reports failure: transient (worth retrying) or permanent (record and move on)."""

from __future__ import annotations


class ModelError(Exception):
    """A request to a model failed."""


class TransientModelError(ModelError):
    """A failure that may go away on retry: timeout, 429, 5xx, reset connection, broken body."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        """How long the server asked us to wait (Retry-After), if it said."""


class PermanentModelError(ModelError):
    """A failure that retrying will not fix: 400, 401, 404, context overflow, bad content."""


class ModelConfigError(ValueError):
    """A model spec or backend option is wrong (unknown backend, missing key, missing file)."""
