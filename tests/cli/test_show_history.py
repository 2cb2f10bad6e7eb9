"""`turnscope show` prints the history each turn was actually played from (fixed answers, and
the references a gold turn saw instead of the model's answers), and a turn whose judgment has
not been made yet as pending, not as unscored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from helpers.cli import turnscope
from helpers.servers import FakeOpenAIServer
from turnscope.core import GenerationParams, RunConfig
from turnscope.models import BackendOptions, create_client
from turnscope.run import create_run, execute_run
from turnscope.suites import resolve_suite

DATA = Path(__file__).parent.parent / "data" / "fixed_turns"
HISTORY = "assistant (in the history, not asked):"


async def test_show_prints_the_history_played_from_and_pending_judgments(tmp_path: Path) -> None:
    items = resolve_suite(f"mt-eval:{DATA / 'mt_eval' / 'follow-up_multi.jsonl'}").suite.items
    runs = tmp_path / "runs"
    with FakeOpenAIServer() as fake:
        config = RunConfig(
            model=f"openai:fake@{fake.base_url}",
            suite="fixed-turns",
            params=GenerationParams(max_tokens=8),
            conditions=("own", "gold"),
            concurrency=1,
            use_cache=False,
            created_at=datetime.now(UTC),
        )
        store = create_run(config, items, runs)
        client = create_client(config.model, BackendOptions())
        try:
            # No judge: the follow-up turns' judge specs stay to be judged.
            await execute_run(store, client)
        finally:
            await client.aclose()
        run_dir = store.run_dir
        store.close()
    shown = turnscope("show", str(run_dir), "--item", items[0].id, runs=runs)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    gold, own = out.split("| own |", 1)  # records come in condition order: gold, then own
    # The fixed turns, as the model saw them before turn 3, under both conditions.
    for part in (own, gold):
        assert f"{HISTORY} Gulls circle over moored boats." in part
        assert f"{HISTORY} Smoked mackerel." in part
    # Under gold, turn 4 was played after the reference, not after the answer shown above it;
    # under own after that answer, which is not printed twice.
    gold_turn_4, own_turn_4 = gold.split("turn 4")[1], own.split("turn 4")[1]
    assert f"{HISTORY} It is fresh and local." in gold_turn_4
    assert HISTORY not in own_turn_4 and own_turn_4.count("assistant:") == 1
    assert out.count("judgment pending (resume to finish)") == 4
    assert "not scored" not in out
