# Pretraining of every model variant on the Pfam corpus (objective none = seeded random initialisation).


rule pretrain:
    input:
        train=corpus_input("train"),
        test=corpus_input("test"),
        test_pairs=corpus_input("test_pairs.parquet"),
    output:
        model=PRETRAINED_MODEL.encoder,
        metrics=PRETRAINED_MODEL.metrics,
        history=PRETRAINED_MODEL.history,
        config=f"{PRETRAINED_MODEL.directory}/config.json",
    log:
        PRETRAINED_MODEL.log("pretrain"),
    benchmark:
        PRETRAINED_MODEL.benchmark("pretrain")
    wildcard_constraints:
        model=PRETRAINED,
    priority: 10  # the critical path: start pretraining before fine-tuning the no-pretraining baselines
    retries: REQUESTS.retries("pretrain")
    conda:
        "../../envs/plus-gpu.yaml"
    threads: 1  # tiny demo models run fastest one thread per job; the slurm profile sets more
    resources:
        gpu=REQUESTS.gpus("pretrain"),
        mem_mb=memory_mb(32000),
        runtime=requested_runtime("pretrain"),
    params:
        settings=pretrain_settings,
        out=output_dir,
        checkpoint_dir=PRETRAINED_MODEL.checkpoints("pretrain"),
        launch=pretrain_launcher,
    shell:
        "OMP_NUM_THREADS={threads} {params.launch:q} plus --result-fd 3 pretrain --settings {params.settings:q}"
        " --train {input.train:q} --test {input.test:q} --test-pairs {input.test_pairs:q}"
        " --out {params.out:q} --checkpoint-dir {params.checkpoint_dir:q} 3>&2 > {log:q} 2>&1"
