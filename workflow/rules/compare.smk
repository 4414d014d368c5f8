# What the comparison report sets beside the models: a leakage audit of every task's test splits against its
# training split, and the nearest-neighbour alignment baseline as one more row of the tables. Both read one
# Smith-Waterman search per task (align_task), which scores each test sequence against every training one once.


rule align_task:
    input:
        TASK.data,
    output:
        TASK.hits,
    log:
        TASK.log("align_task"),
    benchmark:
        TASK.benchmark("align_task")
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
        data=TASK.data,
        hits=TASK.hits,
    output:
        identity=TASK.audit,
        summary=f"{TASK.audit_dir}/summary.json",
    log:
        TASK.log("audit_leakage"),
    benchmark:
        TASK.benchmark("audit_leakage")
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
        data=TASK.data,
        hits=baseline_hits,
    output:
        metrics=BASELINE_RUN.evaluation,
        predictions=BASELINE_RUN.predictions,
    log:
        TASK.log("alignment_baseline"),
    benchmark:
        TASK.benchmark("alignment_baseline")
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
