"""The tools protocol: one task, solved in up to k turns with a Python interpreter in a sandbox.

At every turn the model runs code (`<execute>...</execute>`, or a call to the `python` tool
through the tools API) and sees what it printed at the next turn, or proposes a solution
(`<solution>...</solution>`), checked by the item's scorers and, for code tasks, by running the
item's tests after it in a fresh sandbox. The interpreter keeps its state across the turns of
one conversation and is never shared between conversations.

Conditions: `tools` (the python tool, unary feedback), `no-tools` (no tool: the same task
answered by reasoning alone, so the report shows the tool's gain), `tools-feedback` (the python
tool and a feedback model's comments after every unsolved turn; needs `--role feedback=SPEC`).
See turnscope.protocols.interactive for turns, records, resume and feedback."""

from __future__ import annotations

import re

from pydantic import Field

from turnscope.core import Condition, Item, Message, Score, ToolSpec
from turnscope.protocols.base import ConditionGap, PlayContext, register_protocol, score_answer
from turnscope.protocols.interactive import (
    EXECUTE_TAG,
    PYTHON,
    InteractiveProtocol,
    InteractiveSetup,
    ToolDef,
    check_sandbox,
    cut,
    run_tests,
)
from turnscope.sandbox import SandboxError
from turnscope.scorers import TurnView

TOOLS = "tools"
NO_TOOLS = "no-tools"
TOOLS_FEEDBACK = "tools-feedback"

PYTHON_TOOL = ToolDef(
    spec=ToolSpec(
        name=PYTHON,
        description=(
            "Run Python code in an interpreter that keeps its variables between calls. Returns "
            "what the code prints and the value of its last expression."
        ),
        parameters={
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
        },
    ),
    tag=EXECUTE_TAG,
)

_WITH_TAGS = (
    "You solve the task below in at most {budget} turns. At each turn, think briefly, then do "
    "one of two things:\n"
    "- run Python code by writing it between <execute> and </execute>. You will see what it "
    "prints. Variables and imports stay defined for your later turns.\n"
    "- give your final answer between <solution> and </solution>.\n"
    "Example: <execute>print(17 * 23)</execute>\n"
    "Example: The answer is <solution>391</solution>"
)
_WITH_API = (
    "You solve the task below in at most {budget} turns. At each turn, think briefly, then "
    "either call the python tool to run code (you will see what it prints; variables stay "
    "defined for your later turns), or give your final answer between <solution> and "
    "</solution>, e.g. The answer is <solution>391</solution>"
)
_WITHOUT = (
    "You solve the task below in at most {budget} turns, without running any code. At each "
    "turn, think briefly, then give your final answer between <solution> and </solution>, "
    "e.g. The answer is <solution>391</solution>. If it is wrong, you may try again."
)
_CODE_ANSWER = (
    "\nYour solution is Python code: put the complete code (every function the task asks for) "
    "between <solution> and </solution>."
)

_FENCE = re.compile(r"```[a-zA-Z0-9_+-]*\n(.*?)```", re.DOTALL)


class ToolsSetup(InteractiveSetup):
    """A tools item's `setup`: the budget, the interface and, for code tasks, the tests."""

    tests: str | None = Field(default=None, min_length=1, max_length=200_000)
    """Python run after a proposed solution in a fresh sandbox (asserts, a check() call);
    the solution passes when it runs to its end. Makes the item a code task."""


def solution_code(solution: str) -> str:
    """The code in a proposed solution: the fenced blocks when there are any, else all of it."""
    blocks = _FENCE.findall(solution)
    return "\n\n".join(blocks) if blocks else solution


class ToolsProtocol(InteractiveProtocol):
    """A task solved with (or, under no-tools, without) a Python interpreter."""

    name = "tools"
    conditions: tuple[Condition, ...] = (TOOLS, NO_TOOLS, TOOLS_FEEDBACK)
    feedback_conditions: tuple[Condition, ...] = (TOOLS_FEEDBACK,)
    gaps: tuple[ConditionGap, ...] = (
        ConditionGap(
            name="tools − no-tools",
            first=TOOLS,
            second=NO_TOOLS,
            meaning="negative: the task was solved less often with the python tool",
        ),
        ConditionGap(
            name="feedback − unary",
            first=TOOLS_FEEDBACK,
            second=TOOLS,
            meaning="negative: a feedback model's comments made solving rarer",
        ),
    )
    setup_model = ToolsSetup

    def spec(self, item: Item) -> ToolsSetup:
        setup = self.setup(item)
        assert isinstance(setup, ToolsSetup)
        return setup

    def check_item(self, item: Item) -> None:
        super().check_item(item)
        if len(item.turns) != 1:
            raise ValueError("field 'turns': a tools item has exactly one turn, the task")
        if not item.turns[0].scorers and self.spec(item).tests is None:
            raise ValueError(
                "field 'turns': a tools item's task needs scorers (or setup.tests for code)"
            )

    def check_available(self, item: Item, condition: Condition) -> None:
        if condition != NO_TOOLS or self.spec(item).tests is not None:
            check_sandbox()

    def tools(self, item: Item, condition: Condition) -> tuple[ToolDef, ...]:
        return () if condition == NO_TOOLS else (PYTHON_TOOL,)

    def instructions(self, item: Item, condition: Condition) -> str:
        if condition == NO_TOOLS:
            text = _WITHOUT
        elif self.interface(item) == "api":
            text = _WITH_API
        else:
            text = _WITH_TAGS
        text = text.format(budget=self.budget(item))
        return text + _CODE_ANSWER if self.spec(item).tests is not None else text

    async def check_solution(
        self, item: Item, solution: str, ctx: PlayContext, request: tuple[Message, ...]
    ) -> tuple[Score, ...]:
        task = item.turns[0]
        scores: list[Score] = []
        if task.scorers:
            view = TurnView(
                item=item, turn=1, response=solution, history=request, condition=ctx.condition
            )
            scores.extend(await score_answer(view, task, ctx.scoring_time_limit_s))
        tests = self.spec(item).tests
        if tests is not None:
            scores.append(await self.run_tests(solution, tests))
        return tuple(scores)

    async def run_tests(self, solution: str, tests: str) -> Score:
        """Run the tests after the solution's code in a fresh sandbox: 1.0 when they pass."""
        try:
            result = await run_tests(f"{solution_code(solution)}\n\n{tests}\n")
        except SandboxError as exc:
            return Score(scorer="tests", error=f"sandbox failed: {exc}")
        if result.error is None:
            return Score(scorer="tests", value=1.0, detail="every test passed")
        return Score(scorer="tests", value=0.0, detail=cut(result.error, 300))


register_protocol(ToolsProtocol())
