"""The `fastchat` turn scorer spec: the judge pass grades the answer with one of FastChat's own
MT-Bench judge prompts (judge kind `fastchat`), read from the user's judge_prompts.jsonl."""

from __future__ import annotations

from turnscope.scorers.base import register_deferred_scorer
from turnscope.scorers.judges._fastchat import FastChatParams

FASTCHAT_SCORER = "fastchat"

register_deferred_scorer(
    FASTCHAT_SCORER,
    FastChatParams,
    summary="an LLM judge (--judge SPEC) grades the answer 1-10 with a FastChat MT-Bench judge "
    "prompt (written by the mt-bench adapter when judge_prompts.jsonl is in the data folder)",
)
