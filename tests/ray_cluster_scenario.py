"""A machine fails under a running lab: run in a fresh process by test_ray_cluster.py.

Starts a three-machine Ray cluster (``ray.cluster_utils.Cluster``, all on loopback), runs the demo
lab spread over it, removes one worker machine mid-run, and prints what happened as JSON.
"""

from __future__ import annotations

import json
import os
import threading
import time

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")

import ray
from ray.cluster_utils import Cluster

from labs.runtime.lab import RunResult, get_lab
from labs.runtime.ray_runtime import RayRun
from labs.runtime.schedule import builder

FAIL_AT = 3.0


def main() -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    doomed = cluster.add_node(num_cpus=1)
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, include_dashboard=False, configure_logging=False)
    machines = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    lab = get_lab("demo")
    run = RayRun(lab, builder("machine-failure").duration(7.0).build(), seed=5)
    box: list[RunResult] = []
    thread = threading.Thread(target=lambda: box.append(run.run()))
    thread.start()
    while not run.started:
        time.sleep(0.05)
    time.sleep(max(0.0, run.t0 + FAIL_AT - time.time()))
    removed_at = time.time() - run.t0
    cluster.remove_node(doomed)
    thread.join()
    result = box[0]
    print(json.dumps({
        "machines": machines,
        "removed": doomed.node_id,
        "removed_at": removed_at,
        "trace": [e for e in result.trace if e["type"] in ("start", "restart", "crash", "heal", "end")],
        "violations": [str(v) for v in result.violations()],
        "operations": dict(result.summary().operations),
    }))
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main()
