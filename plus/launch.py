"""The command that starts a training job's processes on a cluster: one srun task per GPU, or nothing extra."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plus.errors import InputError

LOCAL = ["env"]  # runs the command as it is (a word the shell can always execute, quoted or not)


def training_launcher(resources: Mapping[str, Any], threads: int = 1, rule: str = "pretrain") -> list[str]:
    """`srun` with the job's task geometry when its resources ask for several processes (`mpi: srun` with
    `tasks_per_node` >= 2, and optionally `nodes`), else LOCAL.

    The SLURM plugin starts such a job without its usual `srun -n1` step and clears the allocation's variables, so
    srun is told the geometry again, with each task's CPUs (`cpus_per_task`, else the rule's threads: srun does
    not inherit sbatch's); each task is one DDP process (plus.training.trainer.process_layout). Only these fixed
    words and whole numbers reach the shell: any other `mpi` value is an error.
    """
    mpi = resources.get("mpi")
    if mpi is None or mpi == "":
        return LOCAL
    where = f"resources of rule {rule} (profile set-resources or --set-resources)"
    if mpi != "srun":
        raise InputError(f"{where}: mpi must be 'srun' (one DDP process per srun task), not {mpi!r}")
    tasks = resources.get("tasks_per_node")
    nodes = resources.get("nodes", 1)
    cpus = resources.get("cpus_per_task") or threads
    for name, value in (("tasks_per_node", tasks), ("nodes", nodes), ("cpus_per_task", cpus)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{where}: {name} must be a whole number >= 1 with mpi: srun, not {value!r}")
    if tasks < 2:
        raise InputError(f"{where}: tasks_per_node must be at least 2 with mpi: srun (one process per GPU)")
    return ["srun", f"--nodes={nodes}", f"--ntasks-per-node={tasks}", f"--cpus-per-task={cpus}"]
