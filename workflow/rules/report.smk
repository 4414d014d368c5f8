# The comparison report: tables (HTML, CSV, Markdown, LaTeX), figures (PNG, PDF) and results/summary.md, each
# written by `plus report`. Marked for `snakemake --report`, with a caption from workflow/report/: each table as HTML
# (shown inline; the main table also on the front page, workflow.rst), its CSV, Markdown and LaTeX as downloads, and
# each figure as PNG (its PDF stays in results/figures). The file names come from plus.report.outputs. `plus report`
# finds every file it reads from its job (plus.paths); the rule declares the same files as inputs (report_inputs).


from snakemake.io import report as flag_for_report


report: "../report/workflow.rst"


PAIRS = bool(config["_report"].get("comparisons"))  # named pairs: a table of their own
REPORT_TABLE_FILES = [
    (
        flag_for_report(
            f"results/tables/{name}.{suffix}",
            caption=f"../report/{table_caption(name)}.rst",
            category="Tables",
            subcategory=section,
            labels={"table": name},
        )
        if suffix == "html"
        else flag_for_report(
            f"results/tables/{name}.{suffix}",
            caption=f"../report/{table_caption(name)}.rst",
            category="Table files",
            subcategory=section,
            labels={"table": name, "format": suffix},
        )
    )
    for name, section in table_sections(TASKS, PRETRAINING, PAIRS).items()
    for suffix in TABLE_FORMATS
]
REPORT_FIGURE_FILES = [
    (
        flag_for_report(
            f"results/figures/{name}.{suffix}",
            caption=f"../report/figure_{name}.rst",
            category="Figures",
            subcategory=section,
            labels={"figure": name},
        )
        if suffix == "png"
        else f"results/figures/{name}.{suffix}"
    )
    for name, section in figure_sections(PRETRAINING).items()
    for suffix in FIGURE_FORMATS
]


rule report:
    input:
        **report_inputs(),
        published=workflow.source_path("../../config/published_results.tsv"),
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
    threads: 2
    resources:
        mem_mb=4000,
        runtime=requested_runtime("report"),
    params:
        settings=report_settings,
        tables=lambda wildcards, output: os.path.dirname(output.tables[0]),
        figures=lambda wildcards, output: os.path.dirname(output.figures[0]),
    shell:
        "plus --result-fd 3 report --settings {params.settings.json:q} --published {input.published:q}"
        " --tables {params.tables:q} --figures {params.figures:q} --summary {output.summary:q}"
        " --workers {threads} 3>&2 > {log:q} 2>&1"
