"""One small Ray cluster for every Ray test: two simulated nodes on this machine, one CPU each,
so that two actors asking for a CPU each land one per node.

The cluster is slow to start, so the modules that need it share one: it starts with the first
of them and stops as soon as no test left in the session needs it, rather than leave Ray's
daemons running beside the rest of the suite."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

_running: list[Any] = []
"""The shared cluster while it runs (at most one)."""


def _start() -> str:
    if not _running:
        cluster_utils = pytest.importorskip(
            "ray.cluster_utils", reason="pip install 'turnscope[ray]'"
        )
        import ray

        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        # Only what the tests need: no dashboard, log monitor or autoscaler monitor processes.
        quiet = {"include_dashboard": False, "include_log_monitor": False}
        cluster = cluster_utils.Cluster(
            initialize_head=True, head_node_args={"num_cpus": 1, "no_monitor": True, **quiet}
        )
        _running.append(cluster)
        cluster.add_node(num_cpus=1, include_log_monitor=False)
        ray.init(address=cluster.address, logging_level=logging.ERROR, log_to_driver=False)
    return str(_running[0].address)


def _stop() -> None:
    if _running:
        import ray

        ray.shutdown()
        _running.pop().shutdown()


def _needed_later(module: pytest.Item | pytest.Collector, items: list[pytest.Item]) -> bool:
    """Whether a test after the last one of `module` uses the cluster."""
    mine = [i for i, item in enumerate(items) if item.path == module.path]
    return any("ray_cluster" in item.fixturenames for item in items[max(mine, default=-1) + 1 :])


@pytest.fixture(scope="module")
def ray_cluster(request: pytest.FixtureRequest) -> Iterator[str]:
    """The head's address; this process stays connected to it as a Ray driver."""
    try:
        yield _start()
    finally:
        if not _needed_later(request.node, request.session.items):
            _stop()


def pytest_sessionfinish() -> None:
    """Stop the cluster if the session ended before the last test that needed it."""
    _stop()
