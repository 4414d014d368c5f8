# Downloads and the import of every configured task into canonical tables.


rule download:
    input:
        download_input,
    output:
        f"{DOWNLOAD_DIR}/{{group}}/{{file}}",
    log:
        "logs/download/{group}/{file}.log",
    benchmark:
        "results/benchmarks/download/{group}/{file}.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=runtime_minutes(4 * 60),
    params:
        args=download_args,
    shell:
        "plus download {params.args} --out {output} > {log} 2>&1"


rule task_config:
    output:
        "results/configs/tasks/{task}.json",
    log:
        "logs/task_config/{task}.log",
    benchmark:
        "results/benchmarks/task_config/{task}.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        config=import_config_json,
    shell:
        "plus write-config --out {output} {params.config:q} > {log} 2>&1"


rule import_task:
    input:
        config="results/configs/tasks/{task}.json",
        files=import_inputs,
    output:
        directory("results/tasks/{task}"),
    log:
        "logs/import_task/{task}.log",
    benchmark:
        "results/benchmarks/import_task/{task}.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=memory_mb(8000),
        runtime=runtime_minutes(60),
    shell:
        "plus import-task --config {input.config} --out {output} > {log} 2>&1"
