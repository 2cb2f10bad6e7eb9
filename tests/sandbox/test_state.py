"""State across the turns of one conversation, isolation between conversations, restarts, replay."""

from __future__ import annotations

import asyncio

import pytest

from conftest import OpenSandbox
from turnscope.sandbox import SandboxError


async def test_state_persists_across_turns(open_sandbox: OpenSandbox) -> None:
    sandbox = await open_sandbox()
    turns = [
        ("import math\nradius = 2", ""),
        ("def area(r):\n    return math.pi * r * r\nopen('notes.txt', 'w').write('turn 2')", "6\n"),
        (
            "print('area', round(area(radius), 3))\nopen('notes.txt').read()",
            "area 12.566\n'turn 2'\n",
        ),
    ]
    for code, expected in turns:
        result = await sandbox.run(code)
        assert result.error is None, result.output
        assert result.output == expected
        assert not result.restarted


async def test_output_reads_like_a_notebook_cell(open_sandbox: OpenSandbox) -> None:
    sandbox = await open_sandbox()
    result = await sandbox.run("import sys\nprint('out')\nprint('err', file=sys.stderr)\n[1, 2]")
    assert result.output == "out\nerr\n[1, 2]\n"
    # A final expression that is None shows nothing; a statement shows nothing.
    assert (await sandbox.run("None")).output == ""
    assert (await sandbox.run("y = 3")).output == ""
    failed = await sandbox.run("def f():\n    return 1 / 0\nf()")
    assert failed.error == "ZeroDivisionError: division by zero"
    # The traceback shows the snippet's own lines, not the runner's frames.
    assert 'File "<cell 4>", line 2, in f' in failed.output
    assert "return 1 / 0" in failed.output
    assert "runner" not in failed.output
    syntax = await sandbox.run("def broken(:")
    assert syntax.error is not None and syntax.error.startswith("File")
    assert "SyntaxError" in syntax.error


async def test_conversations_never_share_state(open_sandbox: OpenSandbox) -> None:
    first, second = await asyncio.gather(open_sandbox(), open_sandbox())
    await first.run("secret = 'first'\nopen('/sandbox/file', 'w').write('first')")
    leaked = await second.run("secret")
    assert leaked.error is not None and "NameError" in leaked.error
    listing = await second.run("import os; os.listdir('.'), os.listdir('/tmp')")
    assert listing.output == "([], [])\n"
    # A sandbox opened after another closed starts empty too.
    await first.close()
    third = await open_sandbox()
    assert (await third.run("import os; os.listdir('.')")).output == "[]\n"
    assert "NameError" in ((await third.run("secret")).error or "")


async def test_a_crash_restarts_the_interpreter_and_says_state_was_lost(
    open_sandbox: OpenSandbox,
) -> None:
    sandbox = await open_sandbox()
    await sandbox.run("x = 1\nopen('f', 'w').write('kept?')")
    crashed = await sandbox.run("print('bye')\nimport os\nos._exit(3)")
    assert crashed.restarted
    assert crashed.output == "bye\n"
    assert crashed.error is not None
    assert "exited with status 3" in crashed.error
    assert "restarted" in crashed.error
    assert crashed.restart_reason == crashed.error
    assert crashed.limit is None
    after = await sandbox.run("import os\nprint(os.listdir('.'))\nx")
    assert not after.restarted
    assert after.output.startswith("[]\n")
    assert after.error is not None and "NameError" in after.error


async def test_a_crash_while_idle_is_reported_by_the_next_execution(
    open_sandbox: OpenSandbox,
) -> None:
    sandbox = await open_sandbox()
    started = await sandbox.run(
        "import os, threading\nthreading.Timer(0.2, os._exit, (5,)).start()"
    )
    assert started.error is None
    await asyncio.sleep(1.0)
    result = await sandbox.run("1 + 1")
    assert result.output == "2\n"
    assert result.error is None
    assert result.restarted
    assert result.restart_reason is not None
    assert "exited with status 5 after the previous execution" in result.restart_reason


async def test_a_cancelled_execution_costs_the_state_and_says_why(
    open_sandbox: OpenSandbox,
) -> None:
    sandbox = await open_sandbox(wall_time_s=120)
    await sandbox.run("x = 1")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sandbox.run("import time; time.sleep(60)"), 1.0)
    result = await sandbox.run("'x' in globals()")
    assert result.output == "False\n"
    assert result.restarted
    assert result.restart_reason is not None and "cancelled" in result.restart_reason


async def test_replay_rebuilds_state_and_reports_what_failed(open_sandbox: OpenSandbox) -> None:
    sandbox = await open_sandbox()
    replay = await sandbox.replay(["x = 1", "y = x + 1\ny", "undefined_name", "z = y * 10"])
    assert [result.output for result in replay.results][:2] == ["", "2\n"]
    assert replay.failed == (2,)
    assert "NameError" in (replay.results[2].error or "")
    assert not replay.state_lost
    assert (await sandbox.run("z")).output == "20\n"


async def test_replay_says_when_a_restart_lost_part_of_the_state(
    open_sandbox: OpenSandbox,
) -> None:
    sandbox = await open_sandbox()
    replay = await sandbox.replay(["x = 1", "import os; os._exit(1)", "y = 2"])
    assert replay.failed == (1,)
    assert replay.state_lost
    assert "NameError" in ((await sandbox.run("x")).error or "")
    assert (await sandbox.run("y")).output == "2\n"


async def test_runs_on_one_sandbox_take_turns(open_sandbox: OpenSandbox) -> None:
    sandbox = await open_sandbox()
    await sandbox.run("count = 0")
    step = "import time\nbefore = count\ntime.sleep(0.05)\ncount = before + 1"
    results = await asyncio.gather(*(sandbox.run(step) for _ in range(5)))
    assert all(result.error is None for result in results)
    assert (await sandbox.run("count")).output == "5\n"


async def test_eight_sandboxes_in_parallel_keep_apart(open_sandbox: OpenSandbox) -> None:
    sandboxes = await asyncio.gather(*(open_sandbox() for _ in range(8)))
    await asyncio.gather(*(box.run(f"me = {i}") for i, box in enumerate(sandboxes)))
    for _ in range(3):
        results = await asyncio.gather(*(box.run("me = me + 10\nme") for box in sandboxes))
        assert all(result.error is None for result in results)
    assert [result.output for result in results] == [f"{i + 30}\n" for i in range(8)]


async def test_a_closed_sandbox_refuses_work(open_sandbox: OpenSandbox) -> None:
    sandbox = await open_sandbox()
    await sandbox.close()
    await sandbox.close()
    with pytest.raises(SandboxError, match="closed"):
        await sandbox.run("1")
