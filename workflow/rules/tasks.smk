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
        runtime=requested_runtime("download"),
    params:
        args=download_args,
    shell:
        "plus --result-fd 3 download {params.args:q} --out {output:q} 3>&2 > {log:q} 2>&1"


rule import_task:
    input:
        import_inputs,
    output:
        directory(TASK.data),
    log:
        TASK.log("import_task"),
    benchmark:
        TASK.benchmark("import_task")
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=memory_mb(8000),
        runtime=requested_runtime("import_task"),
    params:
        settings=import_settings,
    shell:
        "plus --result-fd 3 import-task --settings {params.settings:q} --out {output:q} 3>&2 > {log:q} 2>&1"
