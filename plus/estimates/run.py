"""The run estimate: for every job of the workflow's DAG, the residues it processes, its estimated time on a device
class from measured throughput, the attempts that time needs under the time limit, and the runtime its rule asks
for (plus/estimates/requests.yaml): what `plus plan` reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plus.errors import InputError
from plus.estimates import slurm
from plus.estimates.estimate import Estimate, estimate
from plus.estimates.reference import ThroughputTable, TypicalSizes, load_throughput, load_typical_sizes
from plus.estimates.requests import RuleRequests, rule_requests
from plus.estimates.settings import PlanSettings
from plus.estimates.sizes import SYNTHETIC_DIR, CorpusSize, SplitSize, corpus_size, task_sizes
from plus.estimates.work import Work, evaluate_work, finetune_work, import_work, prepare_pfam_work, pretrain_work
from plus.jobs import WorkflowPlan
from plus.models.presets import PRESETS
from plus.settings import parse_settings

GPU_RULES = ("pretrain", "finetune", "evaluate")
RESUMABLE_RULES = ("pretrain", "finetune")  # Lightning checkpoints; evaluation and Pfam preparation start again
CPU_TIMED_RULES = ("prepare_pfam",)
RULE_ORDER = ("synthetic", "download", "prepare_pfam", "import_task", "pretrain", "finetune", "evaluate", "report")


@dataclass(frozen=True)
class JobEstimate:
    """One job of the DAG: its work, its time on the rule's device class and on the reference CPU, the attempts
    that time needs under the limit, and the runtime of each attempt its rule allows."""

    rule: str
    model: str | None = None
    task: str | None = None
    seed: int | None = None
    preset: str | None = None
    work: Work = field(default_factory=Work)
    device: Estimate | None = None
    reference: Estimate | None = None
    attempts: int | None = None
    runtime_minutes: tuple[int, ...] = ()
    note: str = ""

    @property
    def name(self) -> str:
        parts = [self.model, self.task, None if self.seed is None else f"seed{self.seed}"]
        return " ".join([self.rule, "/".join(p for p in parts if p is not None)]).strip()


class RunEstimate:
    """Estimates built on demand, so a job's estimate reads the summary.json files that exist when it is asked for."""

    def __init__(
        self,
        workflow: WorkflowPlan,
        settings: PlanSettings,
        results: str | Path = "results",
        throughput: ThroughputTable | None = None,
        typical: TypicalSizes | None = None,
    ) -> None:
        self.workflow = workflow
        self.settings = settings
        self.requests: RuleRequests = rule_requests(settings)
        self.results = Path(results)
        self.throughput = throughput or load_throughput()
        self.typical = typical or load_typical_sizes()
        if settings.device_class not in self.throughput.device_classes:
            known = ", ".join(self.throughput.device_classes)
            raise InputError(
                f"device class {settings.device_class!r} is not declared (known: {known}; "
                "declare one in a file given with --throughput)"
            )

    @property
    def reference_class(self) -> str:
        return self.throughput.reference

    def rule_device(self, rule: str) -> str | None:
        """The device class a rule's jobs run on: GPU rules the chosen class, Pfam preparation the reference CPU."""
        if rule in GPU_RULES:
            return self.settings.device_class
        return self.reference_class if rule in CPU_TIMED_RULES else None

    # ------------------------------------------------------------------ the DAG

    def jobs(self) -> list[JobEstimate]:
        """Every job of the DAG except the target rule `all`, in stage order."""
        pretraining = bool(self.workflow.pretrained_models)
        corpus = corpus_size(self.workflow, self.results, self.typical) if pretraining else None
        tasks = {task: task_sizes(self.workflow, task, self.results, self.typical) for task in self.workflow.tasks}
        w = self.workflow
        plans = [JobEstimate("synthetic", note="the demo data generator; not planned")] if self._synthetic() else []
        plans += [
            JobEstimate("download", task=key, note="local rule: runs on the login node, no SLURM request")
            for key in w.downloads
        ]
        if corpus is not None:
            plans += [self._timed("prepare_pfam", prepare_pfam_work(corpus), task=name) for name in w.corpora]
        plans += [
            JobEstimate(
                "import_task", task=task, work=import_work(tasks[task]), note="not timed: imports are not measured"
            )
            for task in w.tasks
        ]
        if corpus is not None:
            plans += [self._pretrain(model, corpus) for model in w.pretrained_models]
        runs = [(m, t, s) for m in w.models_with("finetune") for t in w.tasks for s in w.seeds]
        plans += [self._finetune(m, t, s, tasks[t]) for m, t, s in runs]
        plans += [self._evaluate(m, t, s, tasks[t]) for m, t, s in runs]
        comparisons = [
            rule
            for rule, on in (
                ("align_task", w.config.report.leakage_audit or w.config.report.alignment_baseline),
                ("audit_leakage", w.config.report.leakage_audit),
                ("alignment_baseline", w.config.report.alignment_baseline),
            )
            if on
        ]
        plans += [
            JobEstimate(rule, task=t, note="comparison (CPU); not planned") for rule in comparisons for t in w.tasks
        ]
        probes = w.models_with("probe")
        embedded: dict[tuple[str, str], str] = {}  # one embed_task job per (key, task): probes of one encoder share it
        for m in probes:
            for t in w.tasks:
                embedded.setdefault((w.embedding_key(m, t), t), m)
        plans += [JobEstimate("embed_task", model=m, task=t, note="not planned") for (_, t), m in embedded.items()]
        for rule in ("probe", "evaluate_probe"):
            plans += [
                JobEstimate(rule, model=m, task=t, seed=s, note="not planned: probes are not measured")
                for m in probes
                for t in w.tasks
                for s in w.seeds
            ]
        plans.append(JobEstimate("report", note="tables and figures; not planned"))
        return plans

    def job(
        self, rule: str, model: str | None = None, task: str | None = None, seed: int | str | None = None
    ) -> JobEstimate:
        """The plan of one job, with the sizes found on disk now."""
        if rule == "prepare_pfam":
            return self._timed(rule, prepare_pfam_work(corpus_size(self.workflow, self.results, self.typical)))
        if rule == "pretrain" and model is not None:
            return self._pretrain(model, corpus_size(self.workflow, self.results, self.typical))
        if rule in ("finetune", "evaluate") and None not in (model, task, seed):
            sizes = task_sizes(self.workflow, str(task), self.results, self.typical)
            make = self._finetune if rule == "finetune" else self._evaluate
            return make(str(model), str(task), int(str(seed)), sizes)
        raise InputError(f"no planned job {rule!r} for model={model} task={task} seed={seed}")

    def _synthetic(self) -> bool:
        pfam = [self.workflow.pfam_input] if self.workflow.pretrained_models else []
        paths = [*pfam, *(p for t in self.workflow.tasks for p in self.workflow.import_inputs(t))]
        return any(path.startswith(SYNTHETIC_DIR) for path in paths)

    def _preset(self, model: str) -> str | None:
        """The architecture preset of a model's encoder (None for encoders that are not one of ours)."""
        entry = self.workflow.config.models[model]
        return entry.preset or getattr(entry.encoder, "preset", None)

    def _pretrain(self, model: str, corpus: CorpusSize) -> JobEstimate:
        job = self.workflow.pretrain(model)
        work = pretrain_work(job, corpus, PRESETS[job.preset].kind)
        return self._timed("pretrain", work, model=model, preset=job.preset)

    def _finetune(self, model: str, task: str, seed: int, sizes: dict[str, SplitSize]) -> JobEstimate:
        work = finetune_work(self.workflow.finetune(model, task, seed), sizes)
        return self._timed("finetune", work, model=model, task=task, seed=seed, preset=self._preset(model))

    def _evaluate(self, model: str, task: str, seed: int, sizes: dict[str, SplitSize]) -> JobEstimate:
        work = evaluate_work(self.workflow.evaluate(model, task, seed), sizes)
        return self._timed("evaluate", work, model=model, task=task, seed=seed, preset=self._preset(model))

    def _timed(
        self,
        rule: str,
        work: Work,
        model: str | None = None,
        task: str | None = None,
        seed: int | None = None,
        preset: str | None = None,
    ) -> JobEstimate:
        """A job with its estimates on the rule's device class and the reference CPU, attempts and requests."""
        device = self.rule_device(rule)
        assert device is not None
        on_device = estimate(work, preset, device, self.throughput)
        on_reference = estimate(work, preset, self.reference_class, self.throughput)
        resumable = rule in RESUMABLE_RULES
        attempts = slurm.attempts(on_device.hours, self.settings, resumable)
        requests = self.requests.attempt_minutes(rule)
        note = ""
        if on_device.hours is not None and not resumable and not slurm.fits(on_device.hours, self.settings):
            note = (
                f"does not fit the {self.settings.time_limit} limit and cannot resume from a checkpoint: "
                "raise plan.time_limit"
            )
        elif on_device.hours is not None and not slurm.covered(on_device.hours, requests, self.settings, resumable):
            note = (
                f"needs more than its rule's requests ({len(requests)} attempts): raise plan.requests.{rule}.minutes "
                "or .retries"
            )
        return JobEstimate(rule, model, task, seed, preset, work, on_device, on_reference, attempts, requests, note)


def build_run_estimate(
    workflow: WorkflowPlan,
    settings: PlanSettings | Mapping[str, Any] | None = None,
    results: str | Path = "results",
    throughput: str | Path | None = None,
) -> RunEstimate:
    """A RunEstimate of `workflow` (plus.jobs.plan_workflow) with plan settings, a results dir and a site's
    figures."""
    if not isinstance(settings, PlanSettings):
        settings = parse_settings(PlanSettings, dict(settings or {}), "plan")
    return RunEstimate(workflow, settings, results, load_throughput(throughput))
