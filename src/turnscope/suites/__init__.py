"""Suites: reading suite files, built-in named suites, validation."""

from turnscope.suites.loader import LoadedSuite, SuiteError, load_suite_file
from turnscope.suites.python_suites import SuiteDeclaration, suite
from turnscope.suites.registry import (
    DEFAULT_SUITE,
    SuiteInfo,
    builtin_suite,
    parse_seed,
    register_suite,
    resolve_suite,
    suites,
)

__all__ = [
    "DEFAULT_SUITE",
    "LoadedSuite",
    "SuiteDeclaration",
    "SuiteError",
    "SuiteInfo",
    "builtin_suite",
    "load_suite_file",
    "parse_seed",
    "register_suite",
    "resolve_suite",
    "suite",
    "suites",
]
