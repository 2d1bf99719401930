"""Distribution: one device, one machine's GPUs, or several processes or machines.

The library's distribution room, and the only place that imports an engine
(TensorFlow or JAX), only when that engine is asked for:

- `cluster`: `configure`, `Distribution` (sharding, the scope, the guard that
  ends every process in one line) and `Cluster`;
- `rendezvous`: the lobby where the processes meet, and the watch that
  notices a dead or silent process;
- `launcher`: `pyimagesearch launch`, N processes on one machine;
- `outside`: the no-op distribution of a single process.

A script imports what it needs from here, as the chapter scripts do:
`from pyimagesearch.distribute import add_gpu_arguments, configure_from_args`.
"""

from pyimagesearch.distribute.cluster import (
    HEARTBEAT_TIMEOUT, LAUNCH_VARIABLE, STARTUP_TIMEOUT, STRATEGIES, Cluster, Distribution,
    add_gpu_arguments, cluster_from, configure, configure_from_args, run_settings)

__all__ = [
    "HEARTBEAT_TIMEOUT", "LAUNCH_VARIABLE", "STARTUP_TIMEOUT", "STRATEGIES", "Cluster",
    "Distribution", "add_gpu_arguments", "cluster_from", "configure", "configure_from_args",
    "run_settings",
]
