"""The `judge` scorer spec params: every bad combination is a one-line error naming it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from turnscope.core import error_text
from turnscope.scorers.judges import (
    ChecklistKind,
    GradeKind,
    JudgeParams,
    RubricKind,
    judge_kind,
    judge_kind_names,
    register_judge_kind,
    single_answer_kinds,
)


def error(**params: object) -> str:
    with pytest.raises(ValidationError) as caught:
        JudgeParams.model_validate(params)
    first = caught.value.errors()[0]
    return f"{'.'.join(map(str, first['loc']))}: {error_text(first)}"


def test_defaults() -> None:
    params = JudgeParams()
    assert (params.kind, params.guidance, params.use_reference) == ("grade", None, True)
    assert params.items == () and params.rubric is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"kind": "stars"},
            "kind: unknown judge kind 'stars' (known: checklist, grade, persona, rubric)",
        ),
        ({"kind": "pairwise"}, "kind: judge kind 'pairwise' compares two answers"),
        ({"kind": "checklist"}, "items: kind 'checklist' needs `items`"),
        ({"kind": "checklist", "items": []}, "items: kind 'checklist' needs `items`"),
        ({"kind": "checklist", "items": ["ok?", " "]}, "items: checklist item 2 is blank"),
        ({"kind": "rubric"}, "rubric: kind 'rubric' needs `rubric`"),
        ({"kind": "rubric", "rubric": "  "}, "rubric: kind 'rubric' needs `rubric`"),
        ({"items": ["ok?"]}, "items: `items` is for kind 'checklist', not 'grade'"),
        ({"rubric": "ok?"}, "rubric: `rubric` is for kind 'rubric', not 'grade'"),
        ({"guidance": ""}, "guidance: guidance is blank"),
        ({"use_reference": "perhaps"}, "use_reference: Input should be a valid boolean"),
        ({"criteria": "x"}, "criteria: Extra inputs are not permitted"),
    ],
)
def test_bad_params(params: dict[str, object], message: str) -> None:
    assert error(**params).startswith(message)


def test_registry() -> None:
    assert judge_kind_names() == [
        "checklist",
        "fastchat",
        "fastchat-pair",
        "grade",
        "pairwise",
        "persona",
        "rubric",
    ]
    # fastchat is named by its own spec type (`type: fastchat`), not by `type: judge`.
    assert single_answer_kinds() == ["checklist", "grade", "persona", "rubric"]
    with pytest.raises(ValueError, match="given by a spec of its own type: fastchat"):
        JudgeParams(kind="fastchat")
    assert isinstance(judge_kind("grade", JudgeParams()), GradeKind)
    checklist = JudgeParams(kind="checklist", items=("a?",))
    assert isinstance(judge_kind("checklist", checklist), ChecklistKind)
    assert isinstance(judge_kind("rubric", JudgeParams(kind="rubric", rubric="a?")), RubricKind)
    with pytest.raises(ValueError, match="unknown judge kind 'stars'"):
        judge_kind("stars", JudgeParams())
    with pytest.raises(ValueError, match="needs `items`"):
        judge_kind("checklist", JudgeParams())
    with pytest.raises(ValueError, match="needs `rubric`"):
        judge_kind("rubric", JudgeParams())


def test_a_registered_kind_becomes_a_valid_param(monkeypatch: pytest.MonkeyPatch) -> None:
    from turnscope.scorers.judges import _base

    monkeypatch.setattr(_base, "_KINDS", dict(_base._KINDS))
    register_judge_kind("strict-grade")(GradeKind)
    assert JudgeParams(kind="strict-grade").kind == "strict-grade"
    assert isinstance(judge_kind("strict-grade", JudgeParams()), GradeKind)
