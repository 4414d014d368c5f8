# What the comparison report sets beside the models: a leakage audit of every task's test splits against its
# training split, and the nearest-neighbour alignment baseline as one more row of the tables. Both read one
# Smith-Waterman search per task (align_task), which scores each test sequence against every training one once.


rule align_task:
    input:
        "results/tasks/{task}",
    output:
        "results/align/{task}/hits.parquet",
    log:
        "logs/align_task/{task}.log",
    benchmark:
        "results/benchmarks/align_task/{task}.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 2  # queries are split over threads (Opal releases the GIL); the slurm profile sets more
    resources:
        mem_mb=memory_mb(4000),
        runtime=requested_runtime("align_task"),
    params:
        spec=task_spec_json,
    shell:
        "plus --result-fd 3 align-task --data {input:q} --task-spec {params.spec:q} --out {output:q}"
        " --threads {threads} 3>&2 > {log:q} 2>&1"


rule audit_leakage:
    input:
        data="results/tasks/{task}",
        hits="results/align/{task}/hits.parquet",
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
        runtime=requested_runtime("audit_leakage"),
    params:
        out=output_dir,
    shell:
        "plus --result-fd 3 audit-leakage --data {input.data:q} --hits {input.hits:q} --out {params.out:q}"
        " --threads {threads} 3>&2 > {log:q} 2>&1"


rule alignment_baseline:
    input:
        data="results/tasks/{task}",
        hits=baseline_hits,
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
        runtime=requested_runtime("alignment_baseline"),
    params:
        spec=task_spec_json,
        model=BASELINE,
        out=output_dir,
        hits=baseline_hits_args,
    shell:
        "plus --result-fd 3 alignment-baseline --data {input.data:q} --task-spec {params.spec:q}"
        " --model {params.model:q} {params.hits:q} --out {params.out:q} --threads {threads} 3>&2 > {log:q} 2>&1"
