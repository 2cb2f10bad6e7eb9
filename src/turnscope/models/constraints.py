"""An OutputConstraint in the forms backends take: a GBNF grammar (llama.cpp), a regular
expression (vLLM, SGLang), a JSON schema (all of them, and OpenAI's response_format).

Choices are written here, into either form; a regex or a JSON schema becomes GBNF through
llama-cpp-python's own converter, so those forms need the `local` extra where a grammar is
wanted. A form that cannot be built is None: that backend leaves the answer free and the
caller parses and retries as it does without a constraint."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

from turnscope.core import OutputConstraint

PREAMBLE_REGEX = r"([^\[\]]*\n)?"
"""The optional free text before the constrained part: no square brackets (so no verdict
marker can appear in it), ended by a newline."""
_PREAMBLE_RULES = 'preamble ::= [^\\[\\]]* "\\n"\n'
_GBNF_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _gbnf_literal(text: str) -> str:
    return '"' + "".join(_GBNF_ESCAPES.get(ch, ch) for ch in text) + '"'


def _body_rules(constraint: OutputConstraint) -> str | None:
    """GBNF rules whose `body` rule is the constrained part, or None when it cannot be built."""
    if constraint.choices is not None:
        return "body ::= " + " | ".join(_gbnf_literal(c) for c in constraint.choices) + "\n"
    try:
        # Untyped: mypy sees llama-cpp-python's converter as Any through this import.
        converters: Any = importlib.import_module("llama_cpp.llama_grammar")
    except ImportError:
        return None
    if constraint.json_schema is not None:
        grammar = str(converters.json_schema_to_gbnf(json.dumps(constraint.json_schema)))
        # The converter names its top rule `root`; here it is the body under our own root.
        return re.sub(r"^root ::=", "body ::=", grammar, flags=re.MULTILINE) + "\n"
    assert constraint.regex is not None
    converter = converters.SchemaConverter(
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=True
    )
    try:
        converter._visit_pattern(f"^{constraint.regex}$", "body")
    except (AssertionError, ValueError, IndexError, KeyError):
        # Syntax the converter does not know (lookarounds, `(?:` ...): not enforceable.
        return None
    return str(converter.format_grammar()) + "\n"


def to_gbnf(constraint: OutputConstraint) -> str | None:
    """The constraint as a llama.cpp GBNF grammar, or None when it cannot be written as one."""
    body = _body_rules(constraint)
    if body is None:
        return None
    if constraint.preamble:
        return "root ::= preamble? body\n" + _PREAMBLE_RULES + body
    return "root ::= body\n" + body


def to_regex(constraint: OutputConstraint) -> str | None:
    """The constraint as one regular expression over the whole answer (None for a JSON
    schema, which servers take as a schema)."""
    if constraint.json_schema is not None:
        return None
    if constraint.choices is not None:
        body = "(" + "|".join(re.escape(c) for c in constraint.choices) + ")"
    else:
        assert constraint.regex is not None
        body = f"({constraint.regex})"
    return (PREAMBLE_REGEX if constraint.preamble else "") + body
