"""Case-by-case tests of every IFEval instruction, its description and its validation."""

from __future__ import annotations

from typing import Any

import pytest

from turnscope.scorers.ifeval import (
    INSTRUCTION_IDS,
    InstructionError,
    build,
    check,
    check_both,
    check_built,
    describe,
    loose_variants,
    validate,
)
from turnscope.scorers.ifeval._base import registered_ids

AT_LEAST = "at least"
LESS_THAN = "less than"

# (instruction id, kwargs, response, expected strict verdict)
CASES: list[tuple[str, dict[str, Any], str, bool]] = [
    ("keywords:existence", {"keywords": ["river", "stone"]}, "A Stone by the RIVER.", True),
    ("keywords:existence", {"keywords": ["river", "stone"]}, "Only the river.", False),
    # Keywords are regular expressions without word boundaries, as in the reference.
    ("keywords:existence", {"keywords": ["cat"]}, "A category error.", True),
    ("keywords:existence", {"keywords": ["colou?r"]}, "What color?", True),
    (
        "keywords:frequency",
        {"keyword": "sun", "frequency": 2, "relation": AT_LEAST},
        "Sun, sun.",
        True,
    ),
    ("keywords:frequency", {"keyword": "sun", "frequency": 2, "relation": AT_LEAST}, "sun", False),
    (
        "keywords:frequency",
        {"keyword": " sun ", "frequency": 2, "relation": LESS_THAN},
        "sun",
        True,
    ),
    (
        "keywords:frequency",
        {"keyword": "sun", "frequency": 1, "relation": LESS_THAN},
        "sunny",
        False,
    ),
    ("keywords:forbidden_words", {"forbidden_words": ["rain"]}, "Rainbows are fine.", True),
    ("keywords:forbidden_words", {"forbidden_words": ["rain"]}, "No RAIN today.", False),
    (
        "keywords:letter_frequency",
        {"letter": "e", "let_frequency": 3, "let_relation": AT_LEAST},
        "EeE",
        True,
    ),
    (
        "keywords:letter_frequency",
        {"letter": "E", "let_frequency": 3, "let_relation": AT_LEAST},
        "ee",
        False,
    ),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 1, "let_relation": LESS_THAN},
        "abc",
        True,
    ),
    # Public IFEval keys 1122 and 1129 ask for "#" and "!": counted literally.
    (
        "keywords:letter_frequency",
        {"letter": "#", "let_frequency": 4, "let_relation": LESS_THAN},
        "#one #two #three #four",
        False,
    ),
    (
        "keywords:letter_frequency",
        {"letter": "!", "let_frequency": 2, "let_relation": AT_LEAST},
        "Wow! Great!",
        True,
    ),
    (
        "language:response_language",
        {"language": "fr"},
        "Nous avons marché le long de la rivière jusqu'au soir.",
        True,
    ),
    (
        "language:response_language",
        {"language": "fr"},
        "We walked along the river until the evening came.",
        False,
    ),
    # langdetect finds nothing to judge in digits; the reference counts that as followed.
    ("language:response_language", {"language": "de"}, "12345", True),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": AT_LEAST},
        "One. Two! Three?",
        True,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": AT_LEAST},
        "Dr. Smith left at 5 p.m. today.",
        False,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 2, "relation": LESS_THAN},
        "Just one sentence here",
        True,
    ),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First.\n***\nSecond.", True),
    (
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 2},
        "***\nFirst.\n***\nSecond.\n***",
        True,
    ),
    (
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 2},
        "First.\n***\n***\nSecond.",
        False,
    ),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3}, "First.\n***\nSecond.", False),
    (
        "length_constraints:number_words",
        {"num_words": 3, "relation": AT_LEAST},
        "well-known x_y words",
        True,
    ),
    (
        "length_constraints:number_words",
        {"num_words": 3, "relation": LESS_THAN},
        "one two three",
        False,
    ),
    # Combining marks belong to the word (NLTK 3.10's regex engine): two Hindi words.
    (
        "length_constraints:number_words",
        {"num_words": 3, "relation": LESS_THAN},
        "नमस्ते दुनिया",
        True,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Then"},
        'Start here.\n\n"THEN, we go.',
        True,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
        "Start here.\n\nAfter that.",
        False,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 3, "nth_paragraph": 1, "first_word": "start"},
        "Start here.\n\nAfter that.",
        False,
    ),
    (
        "detectable_content:number_placeholders",
        {"num_placeholders": 2},
        "Dear [name], at [place].",
        True,
    ),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name].", False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Bye.\n\np. s. more", True),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Bye.\nP.P.S later", True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Bye. PS later", False),
    ("detectable_content:postscript", {"postscript_marker": "Note:"}, "Bye.\nNOTE: x", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n- two", True),
    (
        "detectable_format:number_bullet_lists",
        {"num_bullets": 2},
        "* one\n** bold\n- two\n- three",
        False,
    ),
    ("detectable_format:constrained_response", {}, "Well. My answer is maybe.", True),
    ("detectable_format:constrained_response", {}, "My answer is yes", False),
    (
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "*one* and *two*",
        True,
    ),
    # Bold counts once: its single-star pairs ("**" twice) enclose nothing.
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "**bold**", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "**bold**", False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "* * and **", False),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "Section", "num_sections": 2},
        "Section 1\nA\nSection 2\nB",
        True,
    ),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "SECTION", "num_sections": 2},
        "Section 1\nA\nSection 2\nB",
        False,
    ),
    ("detectable_format:json_format", {}, '```json\n{"a": [1, 2]}\n```', True),
    ("detectable_format:json_format", {}, 'Here: {"a": 1}', False),
    ("detectable_format:title", {}, "<<A Day at Sea>>\nText", True),
    ("detectable_format:title", {}, "<< >> text", False),
    ("combination:two_responses", {}, "Yes.\n******\nNo.", True),
    ("combination:two_responses", {}, "Yes.\n******\nYes.", False),
    ("combination:two_responses", {}, "A\n******\n\n******\nB", False),
    (
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a poem."},
        " write a POEM. Roses.",
        True,
    ),
    (
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a poem."},
        "Sure! Write a poem.",
        False,
    ),
    (
        "startend:end_checker",
        {"end_phrase": "Any other questions?"},
        'Done. any other questions?"',
        True,
    ),
    (
        "startend:end_checker",
        {"end_phrase": "Any other questions?"},
        "Any other questions? Bye.",
        False,
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 3, "capital_relation": AT_LEAST},
        "NASA and the USA. OK?",
        True,
    ),
    # "DON'T" is two tokens for NLTK ("DO", "N'T"), both in capitals.
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": LESS_THAN},
        "I DON'T know.",
        False,
    ),
    (
        "change_case:english_capital",
        {},
        "THIS IS AN ENGLISH SENTENCE ABOUT THE WEATHER TODAY.",
        True,
    ),
    (
        "change_case:english_capital",
        {},
        "This is an English sentence about the weather today.",
        False,
    ),
    (
        "change_case:english_capital",
        {},
        "ЭТО ПРЕДЛОЖЕНИЕ НАПИСАНО НА РУССКОМ ЯЗЫКЕ.",
        False,
    ),
    (
        "change_case:english_lowercase",
        {},
        "this is an english sentence about the weather today.",
        True,
    ),
    ("change_case:english_lowercase", {}, "this is an English sentence.", False),
    ("punctuation:no_comma", {}, "No commas here，only a wide one.", True),
    ("punctuation:no_comma", {}, "One, two.", False),
    ("startend:quotation", {}, ' "Quoted answer." ', True),
    ("startend:quotation", {}, '"', False),
    ("startend:quotation", {}, "“Curly quotes”", False),
]


@pytest.mark.parametrize(("instruction_id", "kwargs", "response", "expected"), CASES)
def test_strict_verdict(
    instruction_id: str, kwargs: dict[str, Any], response: str, expected: bool
) -> None:
    assert check(instruction_id, kwargs, response) is expected


def test_every_instruction_has_passing_and_failing_cases() -> None:
    verdicts: dict[str, set[bool]] = {}
    for instruction_id, _, _, expected in CASES:
        verdicts.setdefault(instruction_id, set()).add(expected)
    assert set(verdicts) == set(INSTRUCTION_IDS)
    assert all(v == {True, False} for v in verdicts.values())


def test_ids_are_the_reference_taxonomy() -> None:
    assert len(INSTRUCTION_IDS) == len(set(INSTRUCTION_IDS)) == 25
    assert set(registered_ids()) == set(INSTRUCTION_IDS)


@pytest.mark.parametrize("instruction_id", INSTRUCTION_IDS)
def test_blank_response_follows_nothing(instruction_id: str) -> None:
    kwargs = next(k for i, k, _, _ in CASES if i == instruction_id)
    for response in ("", "   ", "\n\t\n"):
        assert check(instruction_id, kwargs, response) is False
        assert check(instruction_id, kwargs, response, loose=True) is False


@pytest.mark.parametrize("instruction_id", INSTRUCTION_IDS)
def test_description_is_plain_text(instruction_id: str) -> None:
    kwargs = next(k for i, k, _, _ in CASES if i == instruction_id)
    text = describe(instruction_id, kwargs)
    assert text and text == text.strip() and "{" not in text


def test_descriptions_carry_the_arguments() -> None:
    assert describe("keywords:existence", {"keywords": ["stone", "river"]}) == (
        'Mention each of "river" and "stone" in your answer.'
    )
    assert "at least 5 sentences" in describe(
        "length_constraints:number_sentences", {"num_sentences": 5, "relation": AT_LEAST}
    )
    assert "Japanese" in describe("language:response_language", {"language": "ja"})
    # A code the name table does not know is shown as it is.
    assert "xx" in describe("language:response_language", {"language": "xx"})


class TestLoose:
    def test_variants_follow_the_reference_construction(self) -> None:
        variants = loose_variants("Intro\n*Body* text\nOutro")
        assert variants == (
            "Intro\n*Body* text\nOutro",
            "*Body* text\nOutro",
            "Intro\n*Body* text",
            "*Body* text",
            "Intro\nBody text\nOutro",
            "Body text\nOutro",
            "Intro\nBody text",
            "Body text",
        )

    def test_single_line_variants_are_deduplicated(self) -> None:
        assert loose_variants("*a*") == ("*a*", "", "a")

    def test_dropping_the_preamble_line_passes(self) -> None:
        response = "Sure, here you go:\n<<Title>>\nBody."
        kwargs = {"end_phrase": "Body."}
        assert check("startend:end_checker", kwargs, response)
        assert not check("combination:repeat_prompt", {"prompt_to_repeat": "<<Title>>"}, response)
        assert check(
            "combination:repeat_prompt", {"prompt_to_repeat": "<<Title>>"}, response, loose=True
        )

    def test_removing_stars_passes(self) -> None:
        response = "**WARNING** all caps here"
        kwargs = {"capital_frequency": 1, "capital_relation": AT_LEAST}
        assert check("change_case:capital_word_frequency", kwargs, response)
        assert not check("startend:quotation", {}, '*"quoted"*')
        assert check("startend:quotation", {}, '*"quoted"*', loose=True)

    def test_loose_never_loses_a_strict_pass(self) -> None:
        for instruction_id, kwargs, response, expected in CASES:
            if expected:
                assert check(instruction_id, kwargs, response, loose=True)


class TestDenseLanguages:
    def test_words_count_characters_only_when_asked(self) -> None:
        kwargs = {"num_words": 5, "relation": AT_LEAST}
        response = "我们今天去公园散步"
        assert not check("length_constraints:number_words", kwargs, response)
        assert check("length_constraints:number_words", kwargs, response, language="zh")
        assert check("length_constraints:number_words", kwargs, response, language="Chinese")
        assert check("length_constraints:number_words", kwargs, response, language="ja-JP")
        # Korean separates words with spaces, so it keeps the reference counting.
        assert not check("length_constraints:number_words", kwargs, response, language="ko")

    def test_sentences_also_end_at_ideographic_marks(self) -> None:
        kwargs = {"num_sentences": 3, "relation": AT_LEAST}
        response = "今天天气很好。我们去公园吧！你想去吗？"
        assert not check("length_constraints:number_sentences", kwargs, response)
        assert check("length_constraints:number_sentences", kwargs, response, language="zh")
        closing = "他说：「好。」然后走了。"
        two = {"num_sentences": 2, "relation": AT_LEAST}
        assert check("length_constraints:number_sentences", two, closing, language="zh")

    def test_other_languages_keep_reference_counting(self) -> None:
        kwargs = {"num_sentences": 2, "relation": AT_LEAST}
        response = "Привет。Мир."
        assert check("length_constraints:number_sentences", kwargs, response, language="ja") != (
            check("length_constraints:number_sentences", kwargs, response, language="ru")
        )


class TestValidation:
    @pytest.mark.parametrize(
        ("instruction_id", "kwargs", "message"),
        [
            ("keywords:nonsense", {}, "unknown instruction id 'keywords:nonsense'"),
            (
                "keywords:frequency",
                {"keyword": "x", "frequency": 2},
                "missing keyword argument 'relation'",
            ),
            ("punctuation:no_comma", {"language": "en"}, "unexpected keyword argument 'language'"),
            (
                "keywords:frequency",
                {"keyword": "x", "frequency": 2, "relation": "at most"},
                "keyword argument 'relation': Input should be 'less than' or 'at least'",
            ),
            (
                "length_constraints:number_words",
                {"num_words": -1, "relation": AT_LEAST},
                "keyword argument 'num_words': Input should be greater than or equal to 0",
            ),
            (
                "length_constraints:number_words",
                {"num_words": "100", "relation": AT_LEAST},
                "keyword argument 'num_words': Input should be a valid integer",
            ),
            (
                "length_constraints:number_words",
                {"num_words": True, "relation": AT_LEAST},
                "Input should be a valid integer (got True)",
            ),
            ("keywords:existence", {"keywords": []}, "keyword argument 'keywords'"),
            ("keywords:existence", {"keywords": "river"}, "Input should be a valid tuple"),
            ("keywords:existence", {"keywords": ["(unclosed"]}, "not valid"),
            ("keywords:forbidden_words", {"forbidden_words": ["a", "  "]}, "'forbidden_words'[1]"),
            (
                "keywords:letter_frequency",
                {"letter": "ab", "let_frequency": 2, "let_relation": AT_LEAST},
                "keyword argument 'letter'",
            ),
            (
                "keywords:letter_frequency",
                {"letter": " ", "let_frequency": 2, "let_relation": AT_LEAST},
                "keyword argument 'letter'",
            ),
            ("keywords:existence", {"keywords": ["a{99999999999}"]}, "not valid"),
            ("keywords:existence", {"keywords": ["(?:x{65535}){100}"]}, "too large"),
            (
                "length_constraints:nth_paragraph_first_word",
                {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "x"},
                "nth_paragraph must be between 1 and num_paragraphs (2), got 3",
            ),
            ("combination:repeat_prompt", {}, "missing keyword argument 'prompt_to_repeat'"),
            ("combination:repeat_prompt", {"prompt_to_repeat": ""}, "'prompt_to_repeat'"),
            ("detectable_content:postscript", {"postscript_marker": "P.S.("}, "not valid"),
        ],
    )
    def test_bad_instruction_is_one_clear_line(
        self, instruction_id: str, kwargs: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(InstructionError) as raised:
            validate(instruction_id, kwargs)
        text = str(raised.value)
        assert message in text
        assert "\n" not in text
        assert isinstance(raised.value, ValueError)

    def test_check_and_describe_validate_too(self) -> None:
        with pytest.raises(InstructionError, match="missing keyword argument 'num_bullets'"):
            check("detectable_format:number_bullet_lists", {}, "* a")
        with pytest.raises(InstructionError, match="unknown instruction id"):
            describe("nope", None)

    def test_none_values_count_as_absent(self) -> None:
        padded = {"num_highlights": 1, "keywords": None, "relation": None, "language": None}
        validate("detectable_format:number_highlighted_sections", padded)
        assert check("detectable_format:number_highlighted_sections", padded, "*one*")
        validate("punctuation:no_comma", {"keywords": None})
        validate("punctuation:no_comma", None)

    def test_integral_floats_are_accepted(self) -> None:
        validate("detectable_format:number_bullet_lists", {"num_bullets": 3.0})
        with pytest.raises(InstructionError, match="valid integer"):
            validate("detectable_format:number_bullet_lists", {"num_bullets": 2.5})

    def test_kwargs_must_be_a_mapping(self) -> None:
        with pytest.raises(InstructionError, match="must be a mapping"):
            validate("punctuation:no_comma", ["not", "a", "mapping"])  # type: ignore[arg-type]

    def test_response_must_be_text(self) -> None:
        with pytest.raises(TypeError, match="response must be a str"):
            check("punctuation:no_comma", None, None)  # type: ignore[arg-type]

    def test_language_codes_outside_the_reference_table_are_accepted(self) -> None:
        # The reference raises KeyError while describing "zh-cn"; langdetect does return it.
        assert check(
            "language:response_language",
            {"language": "zh-cn"},
            "我们沿着河边散步，一直走到太阳落山。",
        )


def test_built_instructions_are_reused() -> None:
    kwargs = {"keywords": ["a", "b"]}
    assert build("keywords:existence", kwargs) is build(
        "keywords:existence", {"keywords": ["a", "b"]}
    )
    assert build("keywords:existence", kwargs) is not build(
        "keywords:existence", {"keywords": ["b"]}
    )


def test_unhashable_kwargs_still_validate() -> None:
    # A set is not frozen for the cache; it is still a valid sequence of keywords.
    assert check("keywords:existence", {"keywords": {"river"}}, "the river")


def test_check_both_and_check_built_match_separate_calls() -> None:
    for instruction_id, kwargs, response, _ in CASES:
        for text in (response, "Intro line\n" + response, "*" + response + "*\nBye"):
            expected = (
                check(instruction_id, kwargs, text),
                check(instruction_id, kwargs, text, loose=True),
            )
            assert check_both(instruction_id, kwargs, text) == expected
            assert check_built(build(instruction_id, kwargs), text) == expected
