"""Fixtures of the HTTP tests here: the real llama_cpp.server, one per test session."""

from helpers.servers import llama_server  # noqa: F401  (a session-scoped fixture)
