"""PLUS: Pfam pretraining (MLM + same-family prediction) and the seven-task benchmark.

Run from the repository root: `snakemake --cores 2` (offline demo, config/config.yaml) or
`snakemake --profile slurm` (the paper reproduction on a SLURM cluster, config/paper.yaml); add `-d runs/NAME` to
keep a run's results/, logs/ and resources/ in a directory of its own.
"""

from snakemake.utils import min_version

min_version("9.0")


# The demo config unless config files are given: `--configfile` replaces it rather than merging into it (jobs
# submitted to a cluster receive only the --configfile list, so a merge would differ between them and here).
# Files of the repository are found next to this Snakefile (workflow.source_path), whatever the working directory
# (`-d runs/NAME`); results/, logs/ and resources/ are written in the working directory.
if not workflow.overwrite_configfiles:

    configfile: workflow.source_path("config/config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/pfam.smk"
include: "workflow/rules/tasks.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/gpu_smoke.smk"


localrules:
    all,
    download,


rule all:
    default_target: True
    input:
        **report_inputs(),
        summary="results/summary.md",
        # Every table and figure, so that a run made before a report file was added makes it (and --report finds it).
        tables=rules.report.output.tables,
        figures=rules.report.output.figures,
