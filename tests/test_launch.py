"""The launcher of multi-process training jobs on a cluster (plus.launch)."""

from __future__ import annotations

import pytest

from plus.errors import InputError
from plus.launch import LOCAL, training_launcher


def test_a_job_without_mpi_runs_its_command_as_it_is() -> None:
    assert training_launcher({}) == LOCAL == ["env"]
    assert training_launcher({"gpu": 1, "mpi": ""}) == LOCAL


def test_srun_is_told_the_task_geometry() -> None:
    assert training_launcher({"mpi": "srun", "tasks_per_node": 4, "nodes": 2, "cpus_per_task": 8}) == [
        "srun",
        "--nodes=2",
        "--ntasks-per-node=4",
        "--cpus-per-task=8",
    ]
    two = ["srun", "--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=3"]  # the rule's threads per task
    assert training_launcher({"mpi": "srun", "tasks_per_node": 2}, threads=3) == two


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"mpi": "srun; touch PWNED", "tasks_per_node": 2}, "mpi must be 'srun'"),
        ({"mpi": "mpirun", "tasks_per_node": 2}, "mpi must be 'srun'"),
        ({"mpi": "srun"}, "tasks_per_node must be a whole number"),
        ({"mpi": "srun", "tasks_per_node": 1}, "tasks_per_node must be at least 2"),
        ({"mpi": "srun", "tasks_per_node": "2 --x"}, "tasks_per_node must be a whole number"),
        ({"mpi": "srun", "tasks_per_node": 2, "nodes": 0}, "nodes must be a whole number"),
        ({"mpi": "srun", "tasks_per_node": 2, "cpus_per_task": "8 --x"}, "cpus_per_task must be a whole number"),
    ],
)
def test_anything_else_is_refused(resources: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        training_launcher(resources)
