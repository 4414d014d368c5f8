# Demo data and the Pfam pretraining corpus.


rule synthetic:
    output:
        manifest=f"{SYNTHETIC_DIR}/manifest.json",
        files=SYNTHETIC_FILES,
        config=f"{SYNTHETIC_DIR}/config.json",
    log:
        "logs/synthetic.log",
    benchmark:
        "results/benchmarks/synthetic.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=requested_runtime("synthetic"),
    params:
        settings=synthetic_settings,
        out=output_dir,
    shell:
        "plus --result-fd 3 synthetic --settings {params.settings:q} --out {params.out:q} 3>&2 > {log:q} 2>&1"


rule prepare_pfam:
    input:
        fasta=pfam_input,
    output:
        train=directory(f"{PFAM_DIR}/train"),
        test=directory(f"{PFAM_DIR}/test"),
        test_pairs=f"{PFAM_DIR}/test_pairs.parquet",
        summary=f"{PFAM_DIR}/summary.json",
        config=f"{PFAM_DIR}/config.json",
    log:
        "logs/prepare_pfam/{corpus}.log",
    benchmark:
        "results/benchmarks/prepare_pfam/{corpus}.tsv"
    retries: REQUESTS.retries("prepare_pfam")
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=memory_mb(8000),
        runtime=requested_runtime("prepare_pfam"),
    params:
        settings=pfam_settings,
        out=output_dir,
    shell:
        "plus --result-fd 3 prepare-pfam --settings {params.settings:q} --input {input.fasta:q} --out {params.out:q}"
        " --no-progress 3>&2 > {log:q} 2>&1"
