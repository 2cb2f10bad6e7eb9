"""One small Ray cluster for every Ray test: two simulated nodes on this machine, one CPU each,
so that two actors asking for a CPU each land one per node.

Every test that needs it lives in test_ray_runs.py: the module-scoped fixture starts the
cluster once and stops it as soon as they are done, rather than leave Ray's daemons running
beside the rest of the suite."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """The head's address; this process stays connected to it as a Ray driver."""
    cluster_utils = pytest.importorskip("ray.cluster_utils", reason="pip install 'turnscope[ray]'")
    import ray

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Only what the tests need: no dashboard, log monitor or autoscaler monitor processes.
    quiet = {"include_dashboard": False, "include_log_monitor": False}
    cluster = cluster_utils.Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "no_monitor": True, **quiet}
    )
    try:
        cluster.add_node(num_cpus=1, include_log_monitor=False)
        ray.init(address=cluster.address, logging_level=logging.ERROR, log_to_driver=False)
        yield cluster.address
    finally:
        ray.shutdown()
        cluster.shutdown()
