# Fine-tuning of every (model, task, seed) and its evaluation on the task's test splits.


rule finetune:
    input:
        encoder="results/pretrain/{model}/model.pt",
        data="results/tasks/{task}",
    output:
        model="results/finetune/{model}/{task}/seed{seed}/model.pt",
        metrics="results/finetune/{model}/{task}/seed{seed}/metrics.json",
        history="results/finetune/{model}/{task}/seed{seed}/history.csv",
        config="results/finetune/{model}/{task}/seed{seed}/config.json",
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
        settings=finetune_settings,
        out=output_dir,
        checkpoint_dir="results/checkpoints/finetune/{model}/{task}/seed{seed}",
    shell:
        "OMP_NUM_THREADS={threads} plus finetune --settings {params.settings:q}"
        " --encoder {input.encoder:q} --data {input.data:q} --out {params.out:q}"
        " --checkpoint-dir {params.checkpoint_dir:q} > {log:q} 2>&1"


rule evaluate:
    input:
        model="results/finetune/{model}/{task}/seed{seed}/model.pt",
        data="results/tasks/{task}",
    output:
        metrics="results/evaluate/{model}/{task}/seed{seed}/metrics.json",
        predictions="results/evaluate/{model}/{task}/seed{seed}/predictions.parquet",
        config="results/evaluate/{model}/{task}/seed{seed}/config.json",
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
        settings=evaluate_settings,
        out=output_dir,
    shell:
        "OMP_NUM_THREADS={threads} plus evaluate --settings {params.settings:q}"
        " --model {input.model:q} --data {input.data:q} --out {params.out:q} > {log:q} 2>&1"
