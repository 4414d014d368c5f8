# Demo data and the Pfam pretraining corpus.


rule synthetic_config:
    output:
        "results/configs/synthetic.json",
    log:
        "logs/synthetic_config.log",
    benchmark:
        "results/benchmarks/synthetic_config.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        config=synthetic_config_json,
    shell:
        "plus write-config --out {output} {params.config:q} > {log} 2>&1"


rule synthetic:
    input:
        config="results/configs/synthetic.json",
    output:
        manifest=f"{SYNTHETIC_DIR}/manifest.json",
        files=SYNTHETIC_FILES,
    log:
        "logs/synthetic.log",
    benchmark:
        "results/benchmarks/synthetic.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        out=output_dir,
    shell:
        "plus synthetic --config {input.config} --out {params.out} > {log} 2>&1"


rule pfam_config:
    output:
        "results/configs/pfam.json",
    log:
        "logs/pfam_config.log",
    benchmark:
        "results/benchmarks/pfam_config.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        config=pfam_config_json,
    shell:
        "plus write-config --out {output} {params.config:q} > {log} 2>&1"


rule prepare_pfam:
    input:
        config="results/configs/pfam.json",
        fasta=pfam_input,
    output:
        train=directory(f"{PFAM_DIR}/train"),
        test=directory(f"{PFAM_DIR}/test"),
        test_pairs=f"{PFAM_DIR}/test_pairs.parquet",
        summary=f"{PFAM_DIR}/summary.json",
    log:
        "logs/prepare_pfam.log",
    benchmark:
        "results/benchmarks/prepare_pfam.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=memory_mb(8000),
        runtime=runtime_minutes(6 * 60),
    params:
        out=output_dir,
    shell:
        "plus prepare-pfam --config {input.config} --input {input.fasta} --out {params.out} > {log} 2>&1"
