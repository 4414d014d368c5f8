# Fine-tuning of every (model, task, seed) and its evaluation on the task's test splits; models of protocol
# `probe` instead train their head on the frozen encoder's states, computed once per (key, task): the key is a
# hash of the states' settings (plus.jobs.embedding_key), so probes of the same encoder share one job.


rule finetune:
    input:
        encoder=encoder_inputs,
        data=TASK.data,
    output:
        model=f"{RUN.training_dir}/model.pt",
        metrics=f"{RUN.training_dir}/metrics.json",
        history=f"{RUN.training_dir}/history.csv",
        config=f"{RUN.training_dir}/config.json",
    log:
        RUN.log("finetune"),
    benchmark:
        RUN.benchmark("finetune")
    wildcard_constraints:
        model=FINETUNED,
    retries: REQUESTS.retries("finetune")
    conda:
        "../../envs/plus-gpu.yaml"
    threads: 1  # tiny demo models run fastest one thread per job; the slurm profile sets more
    resources:
        gpu=REQUESTS.gpus("finetune"),
        mem_mb=memory_mb(16000),
        runtime=requested_runtime("finetune"),
    params:
        settings=finetune_settings,
        out=output_dir,
        checkpoint_dir=RUN.checkpoints("finetune"),
    shell:
        "OMP_NUM_THREADS={threads} plus --result-fd 3 finetune --settings {params.settings:q}"
        " --data {input.data:q} --out {params.out:q}"
        " --checkpoint-dir {params.checkpoint_dir:q} 3>&2 > {log:q} 2>&1"


rule evaluate:
    input:
        encoder=encoder_inputs,
        model=f"{RUN.training_dir}/model.pt",
        data=TASK.data,
    output:
        metrics=RUN.evaluation,
        predictions=RUN.predictions,
        config=f"{RUN.evaluation_dir}/config.json",
    log:
        RUN.log("evaluate"),
    benchmark:
        RUN.benchmark("evaluate")
    wildcard_constraints:
        model=FINETUNED,
    retries: REQUESTS.retries("evaluate")
    conda:
        "../../envs/plus-gpu.yaml"
    threads: 1  # tiny demo models run fastest one thread per job; the slurm profile sets more
    resources:
        gpu=REQUESTS.gpus("evaluate"),
        mem_mb=memory_mb(16000),
        runtime=requested_runtime("evaluate"),
    params:
        settings=evaluate_settings,
        out=output_dir,
    shell:
        "OMP_NUM_THREADS={threads} plus --result-fd 3 evaluate --settings {params.settings:q}"
        " --model {input.model:q} --data {input.data:q} --out {params.out:q} 3>&2 > {log:q} 2>&1"


rule embed_task:
    input:
        encoder=embedding_encoder_inputs,
        data=TASK.data,
    output:
        directory("results/embeddings/{key}/{task}"),
    log:
        "logs/embed_task/{key}/{task}.log",
    benchmark:
        "results/benchmarks/embed_task/{key}/{task}.tsv"
    conda:
        "../../envs/plus-gpu.yaml"
    threads: 1
    resources:
        gpu=REQUESTS.gpus("embed_task"),
        mem_mb=memory_mb(16000),
        runtime=requested_runtime("embed_task"),
    params:
        settings=embed_task_settings,
    shell:
        "OMP_NUM_THREADS={threads} plus --result-fd 3 embed-task --settings {params.settings:q}"
        " --data {input.data:q} --out {output:q} 3>&2 > {log:q} 2>&1"


rule probe:
    input:
        embeddings=embedding_dir,
        data=TASK.data,
    output:
        model=f"{RUN.training_dir}/model.pt",
        metrics=f"{RUN.training_dir}/metrics.json",
        history=f"{RUN.training_dir}/history.csv",
        config=f"{RUN.training_dir}/config.json",
    log:
        RUN.log("probe"),
    benchmark:
        RUN.benchmark("probe")
    wildcard_constraints:
        model=PROBED,
    conda:
        "../../envs/plus-gpu.yaml"
    threads: 1
    resources:
        gpu=REQUESTS.gpus("probe"),
        mem_mb=memory_mb(16000),
        runtime=requested_runtime("probe"),
    params:
        settings=finetune_settings,
        out=output_dir,
        checkpoint_dir=RUN.checkpoints("probe"),
    shell:
        "OMP_NUM_THREADS={threads} plus --result-fd 3 probe --settings {params.settings:q}"
        " --embeddings {input.embeddings:q} --data {input.data:q} --out {params.out:q}"
        " --checkpoint-dir {params.checkpoint_dir:q} 3>&2 > {log:q} 2>&1"


rule evaluate_probe:
    input:
        model=f"{RUN.training_dir}/model.pt",
        embeddings=embedding_dir,
        data=TASK.data,
    output:
        metrics=RUN.evaluation,
        predictions=RUN.predictions,
        config=f"{RUN.evaluation_dir}/config.json",
    log:
        RUN.log("evaluate_probe"),
    benchmark:
        RUN.benchmark("evaluate_probe")
    wildcard_constraints:
        model=PROBED,
    conda:
        "../../envs/plus-gpu.yaml"
    threads: 1
    resources:
        gpu=REQUESTS.gpus("evaluate_probe"),
        mem_mb=memory_mb(16000),
        runtime=requested_runtime("evaluate_probe"),
    params:
        settings=evaluate_settings,
        out=output_dir,
    shell:
        "OMP_NUM_THREADS={threads} plus --result-fd 3 evaluate-probe --settings {params.settings:q}"
        " --model {input.model:q} --embeddings {input.embeddings:q} --data {input.data:q} --out {params.out:q}"
        " 3>&2 > {log:q} 2>&1"
