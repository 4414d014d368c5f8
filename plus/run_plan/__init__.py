"""The run plan of a workflow config: residues per job, hours from measured throughput, SLURM attempts and runtimes.

`plus plan` prints it (plus.run_plan.render); the workflow builds one with `plus.run_plan.plan.build_run_plan` and
asks it for its SLURM requests: `RunPlan.runtime_minutes(rule, attempt, ...)` and `RunPlan.retries(rule)`
(docs/cluster.md, "Runtimes from the plan"). This package module imports nothing, so plus.settings can use
plus.run_plan.settings without an import cycle.
"""
