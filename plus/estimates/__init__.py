"""The run estimate of a workflow config: residues per job, hours from measured throughput, and the SLURM requests
of its rules.

The rules' requests come from a plain table (requests.yaml; plus.estimates.requests), which the workflow reads.
`plus plan` reports the estimate (plus.estimates.render): `plus.estimates.run.build_run_estimate` times every job
from measured throughput and checks it against those requests (docs/cluster.md, "Runtimes"). This package module
imports nothing, so plus.settings can use plus.estimates.settings without an import cycle.
"""
