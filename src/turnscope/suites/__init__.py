"""Suites: reading suite files, built-in named suites, validation."""

from turnscope.suites.loader import LoadedSuite, SuiteError, load_suite_file
from turnscope.suites.registry import (
    DEFAULT_SUITE,
    SuiteInfo,
    register_suite,
    resolve_suite,
    suites,
)

__all__ = [
    "DEFAULT_SUITE",
    "LoadedSuite",
    "SuiteError",
    "SuiteInfo",
    "load_suite_file",
    "register_suite",
    "resolve_suite",
    "suites",
]
