# The comparison report: tables (CSV, Markdown, LaTeX), figures (PNG, PDF) and results/summary.md,
# each marked for `snakemake --report` with a caption from workflow/report/.


import json
import os

from snakemake.io import report as flag_for_report


report: "../report/workflow.rst"


REPORT_TABLES = {
    "pretraining": ("Pretraining", "table_pretraining"),
    "main": ("Main results", "table_main"),
    "ablation": ("Ablation", "table_ablation"),
    "published": ("Published results", "table_published"),
}
REPORT_FIGURES = {
    "pretraining_curves": "Pretraining curves",
    "task_scores": "Scores per task",
    "ablation_deltas": "Ablation",
    "confusion_matrices": "Confusion matrices",
    "homology_pr_curves": "Homology precision-recall",
}


# Every table file `plus report` writes (CSV, Markdown, LaTeX), each marked for the HTML report.
REPORT_TABLE_FILES = [
    flag_for_report(
        f"results/tables/{name}.{suffix}",
        caption=f"../report/{caption}.rst",
        category="Tables",
        subcategory=subcategory,
        labels={"table": name, "format": suffix},
    )
    for name, (subcategory, caption) in {
        **REPORT_TABLES,
        **{
            f"detail_{task}": (f"Detail: {task}", "table_detail")
            for task in config["tasks"]
        },
    }.items()
    for suffix in ("csv", "md", "tex")
]
# Every figure file `plus report` writes (PNG, PDF), each marked for the HTML report.
REPORT_FIGURE_FILES = [
    flag_for_report(
        f"results/figures/{name}.{suffix}",
        caption=f"../report/figure_{name}.rst",
        category="Figures",
        subcategory=subcategory,
        labels={"figure": name, "format": suffix},
    )
    for name, subcategory in REPORT_FIGURES.items()
    for suffix in ("png", "pdf")
]


rule report:
    input:
        **report_inputs(),
        published="config/published_results.tsv",
    output:
        summary=report(
            "results/summary.md",
            caption="../report/summary.rst",
            category="Summary",
            labels={"file": "summary.md"},
        ),
        tables=REPORT_TABLE_FILES,
        figures=REPORT_FIGURE_FILES,
    log:
        "logs/report/report.log",
    benchmark:
        "results/benchmarks/report/report.tsv"
    conda:
        "../../envs/plus-cpu.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        models=json.dumps(model_labels()),
        expected=json.dumps(expected_runs()),
        tables=lambda wildcards, output: os.path.dirname(output.tables[0]),
        figures=lambda wildcards, output: os.path.dirname(output.figures[0]),
    shell:
        "plus report --evaluations {input.evaluations} --predictions {input.predictions}"
        " --pretraining {input.pretraining} --histories {input.histories}"
        " --published {input.published} --models-json {params.models:q}"
        " --expected-json {params.expected:q} --tables {params.tables}"
        " --figures {params.figures} --summary {output.summary} > {log} 2>&1"
