"""Options shared by several commands: model roles and backend options, the judge role."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from turnscope.cli._app import (
    DEFAULT_ROLE_N_CTX,
    err_console,
    fail,
)
from turnscope.core import (
    TARGET_ROLE,
    GenerationParams,
    JudgeSettings,
    JuryMethod,
    RoleSettings,
    error_text,
)

# --- model roles and backend options -----------------------------------------------------------

ROLE_NAMES = (TARGET_ROLE, "user", "feedback", "judge")
ROLE_PARAM_KEYS = (
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "concurrency",
    "seed",
    "api_key_env",
)


def _option_value(text: str) -> Any:
    """A command-line value as JSON where it reads as JSON (2048, 0.5, true, ["a"]), else the
    text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _assignment(text: str, option: str, form: str) -> tuple[str, str, Any]:
    """Split "[ROLE.]KEY=VALUE" into (role, key, value); the role defaults to the target."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        fail(f"{option} {text!r}: expected {form}")
    role_name, dot, key = name.strip().rpartition(".")
    return (role_name if dot else TARGET_ROLE), key, _option_value(value)


def role_options(assignments: Sequence[str]) -> dict[str, dict[str, Any]]:
    """-M values grouped by role."""
    grouped: dict[str, dict[str, Any]] = {}
    for text in assignments:
        role_name, key, value = _assignment(text, "-M", "[ROLE.]KEY=VALUE")
        if role_name not in ROLE_NAMES:
            fail(f"-M {text!r}: unknown role {role_name!r} (roles: {', '.join(ROLE_NAMES)})")
        grouped.setdefault(role_name, {})[key] = value
    return grouped


def serving_roles(
    specs: Sequence[str], params: Sequence[str], options: dict[str, dict[str, Any]]
) -> dict[str, RoleSettings]:
    """The serving roles named by --role NAME=SPEC, with their --role-param settings and -M
    backend options."""
    models: dict[str, str] = {}
    for text in specs:
        name, equals, spec = text.partition("=")
        if not equals or not name.strip() or not spec.strip():
            fail(f"--role {text!r}: expected NAME=SPEC, e.g. --role user=llamacpp")
        if name.strip() in (TARGET_ROLE, "judge"):
            fail(f"--role {text!r}: the {name.strip()} role has its own option (-m, --judge)")
        models[name.strip()] = spec.strip()
    settings: dict[str, dict[str, Any]] = {name: {} for name in models}
    for text in params:
        name, key, value = _assignment(text, "--role-param", "NAME.KEY=VALUE")
        if name not in models:
            fail(f"--role-param {text!r}: no --role {name}=SPEC was given")
        if key not in ROLE_PARAM_KEYS:
            fail(f"--role-param {text!r}: unknown setting {key!r} ({', '.join(ROLE_PARAM_KEYS)})")
        settings[name][key] = value
    roles = {}
    for name, spec in models.items():
        given = settings[name]
        generation = {k: v for k, v in given.items() if k in GenerationParams.model_fields}
        rest = {k: v for k, v in given.items() if k not in generation}
        backend = {"n_ctx": DEFAULT_ROLE_N_CTX} if spec.startswith("llamacpp") else {}
        backend.update(options.get(name, {}))
        try:
            roles[name] = RoleSettings.model_validate(
                {"model": spec, "params": generation, "options": backend, **rest}
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            fail(f"--role-param {name}: {where}: {error_text(first)}")
    for name in options:
        if name not in (TARGET_ROLE, "judge", *models):
            fail(f"-M {name}.…: no --role {name}=SPEC was given")
    return roles


# --- the judge role: options shared by run, pairwise and leaderboard ---------------------------

JudgeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--judge",
        help="Judge model spec (same syntax as --model) for turns scored `type: judge`; "
        "repeat for a jury.",
        metavar="SPEC",
    ),
]
JudgeConcurrencyOption = Annotated[
    int,
    typer.Option(
        min=1, help="Judge requests in flight per judge (apart from --concurrency).", metavar="N"
    ),
]


class Jury(StrEnum):
    """--jury choices: how a jury's verdicts on one answer become one score."""

    MEAN = "mean"
    MEDIAN = "median"
    MAJORITY = "majority"


JuryOption = Annotated[
    Jury,
    typer.Option(help="How a jury's verdicts on one answer become one score.", metavar="METHOD"),
]
JudgeMaxTokensOption = Annotated[
    int, typer.Option(min=1, help="Max tokens per judge answer.", metavar="N")
]
JudgeAttemptsOption = Annotated[
    int,
    typer.Option(
        min=1,
        help="Judge requests per judgment before unparseable text is a judge error.",
        metavar="N",
    ),
]
JudgeKeyOption = Annotated[
    str | None,
    typer.Option(
        help="Environment variable holding the judges' API key (never stored).", metavar="VAR"
    ),
]


def print_judge_calls(sent: int, cached: int) -> None:
    err_console.print(f"judge requests: {sent} sent, {cached} answered from the cache")


def judge_settings(
    judges: Sequence[str],
    concurrency: int,
    jury: Jury,
    max_tokens: int,
    attempts: int,
    api_key_env: str | None,
    n_ctx: int,
) -> JudgeSettings:
    methods: dict[Jury, JuryMethod] = {
        Jury.MEAN: "mean",
        Jury.MEDIAN: "median",
        Jury.MAJORITY: "majority",
    }
    return JudgeSettings(
        judges=tuple(dict.fromkeys(judges)),
        api_key_env=api_key_env,
        params=GenerationParams(max_tokens=max_tokens),
        concurrency=concurrency,
        jury=methods[jury],
        max_attempts=attempts,
        options={"n_ctx": n_ctx} if any(j.startswith("llamacpp") for j in judges) else {},
    )
