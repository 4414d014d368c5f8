# A GPU smoke check: one job that asks for a GPU like the training rules do and records what it sees
# (`plus devices`: nvidia-smi -L, CUDA_VISIBLE_DEVICES, SLURM's allocation variables, torch.cuda.device_count()).
# Run it before a long reproduction:  snakemake --profile slurm results/devices/check.json
# The {name} wildcard only labels the check, e.g. one per GPU partition or GPU type tried.
# It may be included on its own (a cluster check outside the workflow): then it asks what the packaged table says.

if "REQUESTS" not in globals():
    from plus.estimates.requests import rule_requests
    from plus.estimates.settings import PlanSettings

    REQUESTS = rule_requests(PlanSettings())
    requested_runtime = REQUESTS.runtime_resource


rule gpu_smoke:
    output:
        "results/devices/{name}.json",
    log:
        "logs/gpu_smoke/{name}.log",
    benchmark:
        "results/benchmarks/gpu_smoke/{name}.tsv"
    conda:
        "../../envs/plus-gpu.yaml"
    threads: 1
    resources:
        gpu=REQUESTS.gpus("gpu_smoke"),
        mem_mb=2000,
        runtime=requested_runtime("gpu_smoke"),
    shell:
        "plus --result-fd 3 devices --out {output:q} 3>&2 > {log:q} 2>&1"
