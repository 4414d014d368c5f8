# What the comparison report sets beside the models: a leakage audit of every task's test splits against its
# training split, and the nearest-neighbour alignment baseline as one more row of the tables.


rule audit_leakage:
    input:
        "results/tasks/{task}",
    output:
        identity="results/audit/{task}/identity.parquet",
        summary="results/audit/{task}/summary.json",
    log:
        "logs/audit_leakage/{task}.log",
    benchmark:
        "results/benchmarks/audit_leakage/{task}.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=memory_mb(4000),
        runtime=runtime_minutes(4 * 60),
    params:
        out=output_dir,
    shell:
        "plus audit-leakage --data {input:q} --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule alignment_baseline:
    input:
        "results/tasks/{task}",
    output:
        metrics=f"results/evaluate/{BASELINE}/{{task}}/seed0/metrics.json",
        predictions=f"results/evaluate/{BASELINE}/{{task}}/seed0/predictions.parquet",
    log:
        "logs/alignment_baseline/{task}.log",
    benchmark:
        "results/benchmarks/alignment_baseline/{task}.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=memory_mb(4000),
        runtime=runtime_minutes(4 * 60),
    params:
        spec=task_spec_json,
        model=BASELINE,
        out=output_dir,
    shell:
        "plus alignment-baseline --data {input:q} --task-spec {params.spec:q} --model {params.model:q}"
        " --out {params.out:q} --threads {threads} > {log:q} 2>&1"
