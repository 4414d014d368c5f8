# Fine-tuning of every (model, task, seed) and its evaluation on the task's test splits.


rule finetune_config:
    output:
        "results/finetune/{model}/{task}/seed{seed}/config.json",
    log:
        "logs/finetune_config/{model}/{task}/seed{seed}.log",
    benchmark:
        "results/benchmarks/finetune_config/{model}/{task}/seed{seed}.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        config=finetune_config_json,
    shell:
        "plus write-config --out {output} {params.config:q} > {log} 2>&1"


rule finetune:
    input:
        config="results/finetune/{model}/{task}/seed{seed}/config.json",
        encoder="results/pretrain/{model}/model.pt",
        data="results/tasks/{task}",
    output:
        model="results/finetune/{model}/{task}/seed{seed}/model.pt",
        metrics="results/finetune/{model}/{task}/seed{seed}/metrics.json",
        history="results/finetune/{model}/{task}/seed{seed}/history.csv",
    log:
        "logs/finetune/{model}/{task}/seed{seed}.log",
    benchmark:
        "results/benchmarks/finetune/{model}/{task}/seed{seed}.tsv"
    conda:
        "../../envs/plus-gpu.yaml"
    threads: 1  # tiny demo models run fastest one thread per job; the slurm profile sets more
    resources:
        gpu=1,
        mem_mb=memory_mb(16000),
        runtime=runtime_minutes(12 * 60),
    params:
        out=output_dir,
        checkpoint_dir="results/checkpoints/finetune/{model}/{task}/seed{seed}",
    shell:
        "OMP_NUM_THREADS={threads} plus finetune --config {input.config} --out {params.out}"
        " --checkpoint-dir {params.checkpoint_dir} > {log} 2>&1"


rule evaluate:
    input:
        config="results/finetune/{model}/{task}/seed{seed}/config.json",
        model="results/finetune/{model}/{task}/seed{seed}/model.pt",
        data="results/tasks/{task}",
    output:
        metrics="results/evaluate/{model}/{task}/seed{seed}/metrics.json",
        predictions="results/evaluate/{model}/{task}/seed{seed}/predictions.parquet",
    log:
        "logs/evaluate/{model}/{task}/seed{seed}.log",
    benchmark:
        "results/benchmarks/evaluate/{model}/{task}/seed{seed}.tsv"
    conda:
        "../../envs/plus-gpu.yaml"
    threads: 1  # tiny demo models run fastest one thread per job; the slurm profile sets more
    resources:
        gpu=1,
        mem_mb=memory_mb(16000),
        runtime=runtime_minutes(2 * 60),
    params:
        out=output_dir,
    shell:
        "OMP_NUM_THREADS={threads} plus evaluate --config {input.config} --model {input.model}"
        " --out {params.out} > {log} 2>&1"
