# Pretraining of every model variant on the Pfam corpus (objective none = seeded random initialisation).


rule pretrain_config:
    output:
        "results/pretrain/{model}/config.json",
    log:
        "logs/pretrain_config/{model}.log",
    benchmark:
        "results/benchmarks/pretrain_config/{model}.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        config=pretrain_config_json,
    shell:
        "plus write-config --out {output} {params.config:q} > {log} 2>&1"


rule pretrain:
    input:
        config="results/pretrain/{model}/config.json",
        train=f"{PFAM_DIR}/train",
        test=f"{PFAM_DIR}/test",
        test_pairs=f"{PFAM_DIR}/test_pairs.parquet",
    output:
        model="results/pretrain/{model}/model.pt",
        metrics="results/pretrain/{model}/metrics.json",
        history="results/pretrain/{model}/history.csv",
    log:
        "logs/pretrain/{model}.log",
    benchmark:
        "results/benchmarks/pretrain/{model}.tsv"
    priority: 10  # the critical path: start pretraining before fine-tuning the no-pretraining baselines
    conda:
        "../../envs/plus-gpu.yaml"
    threads: 1  # tiny demo models run fastest one thread per job; the slurm profile sets more
    resources:
        gpu=1,
        mem_mb=memory_mb(32000),
        runtime=runtime_minutes(48 * 60),
    params:
        out=output_dir,
        checkpoint_dir="results/checkpoints/pretrain/{model}",
    shell:
        "OMP_NUM_THREADS={threads} plus pretrain --config {input.config} --out {params.out}"
        " --checkpoint-dir {params.checkpoint_dir} > {log} 2>&1"
