"""detectable_content:* and detectable_format:* — placeholders, postscripts and markdown shape."""

from __future__ import annotations

import json
import re
from typing import Final

from pydantic import field_validator

from turnscope.scorers.ifeval._base import (
    CheckContext,
    Count,
    Instruction,
    Text,
    ascii_literal,
    compiled,
    regex_of,
    register,
)
from turnscope.scorers.patterns import BoundedPattern

_PLACEHOLDER_RE: Final = re.compile(r"\[.*?\]")
_STAR_BULLET_RE: Final = re.compile(r"^\s*\*[^\*].*$", re.MULTILINE)
_DASH_BULLET_RE: Final = re.compile(r"^\s*-.*$", re.MULTILINE)
_HIGHLIGHT_RE: Final = re.compile(r"\*[^\n\*]*\*")
_BOLD_RE: Final = re.compile(r"\*\*[^\n\*]*\*\*")
_TITLE_RE: Final = re.compile(r"<<[^\n]+>>")
_PPS_RE: Final = re.compile(r"\s*p\.\s?p\.\s?s.*$", re.MULTILINE)
_PS_RE: Final = re.compile(r"\s*p\.\s?s\..*$", re.MULTILINE)
_BUILT_IN_MARKERS: Final = (_PPS_RE, _PS_RE)
_ANSWER_OPTIONS: Final = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
# Fence openings stripped before parsing, tried in this order, each at most once.
_FENCE_OPENINGS: Final = ("```json", "```Json", "```JSON", "```")


def _postscript_pattern(marker: str) -> re.Pattern[str] | BoundedPattern:
    if marker == "P.P.S":
        return _PPS_RE
    if marker == "P.S.":
        return _PS_RE
    return compiled(rf"\s*{marker.lower()}.*$", re.MULTILINE)


def _section_pattern(splitter: str) -> str:
    return rf"\s?{splitter}\s?\d+\s?"


@register("detectable_content:number_placeholders")
class Placeholders(Instruction):
    num_placeholders: Count
    """The least number of [bracketed] placeholders."""

    def describe(self) -> str:
        return (
            f"Include at least {self.num_placeholders} placeholders in square brackets, "
            "for example [name] or [date]."
        )

    def check(self, response: str, context: CheckContext) -> bool:
        return len(_PLACEHOLDER_RE.findall(response)) >= self.num_placeholders


@register("detectable_content:postscript")
class Postscript(Instruction):
    postscript_marker: Text
    """What the postscript starts with: "P.S.", "P.P.S" or another marker (a regex)."""

    @field_validator("postscript_marker")
    @classmethod
    def _valid_pattern(cls, marker: str) -> str:
        regex_of(rf"\s*{marker.strip().lower()}.*$")
        return marker

    def describe(self) -> str:
        marker = self.postscript_marker.strip()
        return f'End your answer with a postscript that starts with "{marker}".'

    def check(self, response: str, context: CheckContext) -> bool:
        pattern = _postscript_pattern(self.postscript_marker.strip())
        text = response.lower()
        if pattern in _BUILT_IN_MARKERS and "p." not in text:
            # Both built-in patterns start with a literal "p."; without one, no scan needed.
            return False
        return pattern.search(text) is not None


@register("detectable_format:number_bullet_lists")
class BulletList(Instruction):
    num_bullets: Count
    """The exact number of markdown bullet points (lines starting with * or -)."""

    def describe(self) -> str:
        return (
            f"Give exactly {self.num_bullets} bullet points in markdown, one per line, "
            'each starting with "* ".'
        )

    def check(self, response: str, context: CheckContext) -> bool:
        # The literal checks skip scans that cannot match; they change no result.
        stars = len(_STAR_BULLET_RE.findall(response)) if "*" in response else 0
        dashes = len(_DASH_BULLET_RE.findall(response)) if "-" in response else 0
        return stars + dashes == self.num_bullets


@register("detectable_format:constrained_response")
class ConstrainedResponse(Instruction):
    def describe(self) -> str:
        options = ", ".join(f'"{o}"' for o in _ANSWER_OPTIONS)
        return f"Answer with one of these exact phrases: {options}."

    def check(self, response: str, context: CheckContext) -> bool:
        text = response.strip()
        return any(option in text for option in _ANSWER_OPTIONS)


@register("detectable_format:number_highlighted_sections")
class HighlightedSections(Instruction):
    num_highlights: Count
    """The least number of sections highlighted with markdown, *like this*."""

    def describe(self) -> str:
        return (
            f"Highlight at least {self.num_highlights} parts of your answer with markdown "
            "emphasis, *like this*."
        )

    def check(self, response: str, context: CheckContext) -> bool:
        # Single-star and double-star spans are counted separately and added, as in the
        # reference: in "**a** *b*" the bold span and the starred word count once each.
        count = sum(1 for h in _HIGHLIGHT_RE.findall(response) if h.strip("*").strip())
        count += sum(
            1 for h in _BOLD_RE.findall(response) if h.removeprefix("**").removesuffix("**").strip()
        )
        return count >= self.num_highlights


@register("detectable_format:multiple_sections")
class Sections(Instruction):
    section_spliter: Text
    """The word that opens each section, followed by its number (e.g. "Section")."""
    num_sections: Count
    """The least number of sections."""

    @field_validator("section_spliter")
    @classmethod
    def _valid_pattern(cls, splitter: str) -> str:
        regex_of(_section_pattern(splitter.strip()))
        return splitter

    def describe(self) -> str:
        word = self.section_spliter.strip()
        return (
            f"Split your answer into {self.num_sections} sections and start each one with "
            f'"{word}" and its number: "{word} 1", "{word} 2", and so on.'
        )

    def check(self, response: str, context: CheckContext) -> bool:
        splitter = self.section_spliter.strip()
        if splitter not in response and ascii_literal(splitter):
            # A plain word that does not occur cannot start a section: skip the slow scan.
            return self.num_sections <= 0
        pattern = compiled(_section_pattern(splitter))
        return len(pattern.split(response)) - 1 >= self.num_sections


@register("detectable_format:json_format")
class JsonFormat(Instruction):
    def describe(self) -> str:
        return "Give your whole answer as JSON; you may put it in a ``` markdown code block."

    def check(self, response: str, context: CheckContext) -> bool:
        text = response.strip()
        for opening in _FENCE_OPENINGS:
            text = text.removeprefix(opening)
        text = text.removesuffix("```").strip()
        try:
            json.loads(text)
        except ValueError:
            return False
        return True


@register("detectable_format:title")
class Title(Instruction):
    def describe(self) -> str:
        return "Give your answer a title in double angle brackets, like <<a day at sea>>."

    def check(self, response: str, context: CheckContext) -> bool:
        return any(t.lstrip("<").rstrip(">").strip() for t in _TITLE_RE.findall(response))
