"""Where each job's outputs live under a results root: the rules name their outputs and the report finds them here.

Every path derives from what a job is about: a run (model, task, seed), a model (its pretraining) or a task. The
rules build their patterns from the same classes with Snakemake wildcards in place of the values (`wildcards()`),
so a pattern is written once, here. Logs go under `logs/`, beside the results root.
"""

from __future__ import annotations

from dataclasses import dataclass

RESULTS = "results"
LOGS = "logs"
METRICS = "metrics.json"
PREDICTIONS = "predictions.parquet"
HISTORY = "history.csv"
SUMMARY = "summary.json"


@dataclass(frozen=True)
class RunPaths:
    """The files of one (model, task, seed) run: its training (fine-tuning or probe) and its evaluation."""

    results: str
    model: str
    task: str
    seed: int | str

    @classmethod
    def wildcards(cls, results: str = RESULTS) -> RunPaths:
        """The rules' patterns: {model}, {task} and {seed} left for Snakemake."""
        return cls(results, "{model}", "{task}", "{seed}")

    @property
    def job(self) -> str:
        """The run's name under a rule's benchmark, checkpoint and log directories."""
        return f"{self.model}/{self.task}/seed{self.seed}"

    @property
    def training_dir(self) -> str:
        """What fine-tuning or a probe writes: model.pt, metrics.json, history.csv, config.json."""
        return f"{self.results}/finetune/{self.job}"

    @property
    def evaluation_dir(self) -> str:
        """What the evaluation writes: metrics.json, predictions.parquet (and config.json)."""
        return f"{self.results}/evaluate/{self.job}"

    @property
    def evaluation(self) -> str:
        """The evaluation's metrics.json (plus.report.records)."""
        return f"{self.evaluation_dir}/{METRICS}"

    @property
    def predictions(self) -> str:
        """The evaluation's predictions.parquet."""
        return f"{self.evaluation_dir}/{PREDICTIONS}"

    def benchmark(self, rule: str) -> str:
        """The Snakemake benchmark file of `rule`'s job for this run."""
        return f"{benchmarks_dir(self.results)}/{rule}/{self.job}.tsv"

    def checkpoints(self, rule: str) -> str:
        """The checkpoint directory of `rule`'s training job for this run."""
        return f"{checkpoints_dir(self.results)}/{rule}/{self.job}"

    def log(self, rule: str) -> str:
        """The log of `rule`'s job for this run."""
        return f"{LOGS}/{rule}/{self.job}.log"


@dataclass(frozen=True)
class ModelPaths:
    """The files of one model's pretraining."""

    results: str
    model: str

    @classmethod
    def wildcards(cls, results: str = RESULTS) -> ModelPaths:
        """The rules' patterns: {model} left for Snakemake."""
        return cls(results, "{model}")

    @property
    def directory(self) -> str:
        """What pretraining writes: model.pt, metrics.json, history.csv, config.json."""
        return f"{self.results}/pretrain/{self.model}"

    @property
    def encoder(self) -> str:
        """The pretrained encoder's checkpoint."""
        return f"{self.directory}/model.pt"

    @property
    def metrics(self) -> str:
        """Pretraining's metrics.json."""
        return f"{self.directory}/{METRICS}"

    @property
    def history(self) -> str:
        """Pretraining's history.csv."""
        return f"{self.directory}/{HISTORY}"

    def benchmark(self, rule: str) -> str:
        """The Snakemake benchmark file of `rule`'s job for this model."""
        return f"{benchmarks_dir(self.results)}/{rule}/{self.model}.tsv"

    def checkpoints(self, rule: str) -> str:
        """The checkpoint directory of `rule`'s training job for this model."""
        return f"{checkpoints_dir(self.results)}/{rule}/{self.model}"

    def log(self, rule: str) -> str:
        """The log of `rule`'s job for this model."""
        return f"{LOGS}/{rule}/{self.model}.log"


@dataclass(frozen=True)
class TaskPaths:
    """The files of one task: its import, its alignment search and its leakage audit."""

    results: str
    task: str

    @classmethod
    def wildcards(cls, results: str = RESULTS) -> TaskPaths:
        """The rules' patterns: {task} left for Snakemake."""
        return cls(results, "{task}")

    @property
    def data(self) -> str:
        """The canonical task directory `plus import-task` writes."""
        return f"{self.results}/tasks/{self.task}"

    @property
    def summary(self) -> str:
        """The import's summary.json (provenance)."""
        return f"{self.data}/{SUMMARY}"

    @property
    def hits(self) -> str:
        """The task's test-against-train alignment search."""
        return f"{self.results}/align/{self.task}/hits.parquet"

    @property
    def audit_dir(self) -> str:
        """What the leakage audit writes: identity.parquet and summary.json."""
        return f"{self.results}/audit/{self.task}"

    @property
    def audit(self) -> str:
        """The leakage audit's identity.parquet."""
        return f"{self.audit_dir}/identity.parquet"

    def benchmark(self, rule: str) -> str:
        """The Snakemake benchmark file of `rule`'s job for this task."""
        return f"{benchmarks_dir(self.results)}/{rule}/{self.task}.tsv"

    def log(self, rule: str) -> str:
        """The log of `rule`'s job for this task."""
        return f"{LOGS}/{rule}/{self.task}.log"


def benchmarks_dir(results: str) -> str:
    """Every job's Snakemake benchmark file is under here (plus.report.cost)."""
    return f"{results}/benchmarks"


def checkpoints_dir(results: str) -> str:
    """Every training job's checkpoint directory is under here (its attempts.tsv: plus.report.cost)."""
    return f"{results}/checkpoints"
