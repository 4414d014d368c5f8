"""The residues each job of the workflow processes, pass by pass, from its resolved settings and the sizes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from plus.estimates.sizes import CorpusSize, SplitSize
from plus.settings import EvaluateJob, FinetuneJob, PretrainJob


@dataclass(frozen=True)
class Pass:
    """One kind of work of a job: `stage` names the throughput it runs at (throughput.yaml)."""

    what: str
    stage: str
    residues: float | None
    formula: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Work:
    """Everything a job processes, and what the count leaves out."""

    passes: tuple[Pass, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def residues(self) -> float | None:
        """The total, or None when any pass (or the whole job: no passes) is unknown."""
        if not self.passes or any(item.residues is None for item in self.passes):
            return None
        return float(sum(item.residues for item in self.passes))  # type: ignore[misc]


def _times(*factors: float | None) -> float | None:
    return None if any(f is None for f in factors) else math.prod(factors)  # type: ignore[arg-type]


def _pairs_pass(what: str, n_pairs: float | None, count: str, split: SplitSize, passes: int) -> Pass:
    """Forward passes over `n_pairs` SFP pairs of `split` (both sequences, `passes` times each)."""
    times = f" x {passes} passes" if passes > 1 else ""
    return Pass(
        what,
        "inference",
        _times(n_pairs, 2, split.mean_length.value, passes),
        f"{count} x 2 x {split.length_text}{times}",
        (split.mean_length.source,),
    )


def pretrain_work(job: PretrainJob, corpus: CorpusSize, kind: str) -> Work:
    """Training steps x pairs x 2 sequences x mean length, validations and the final test-pair scoring."""
    t = job.training
    passes_per_pair = 1 if job.objective == "mlm" else 2  # MLM on masked inputs, SFP on the unmasked pair
    notes = []
    if kind == "tfm":
        notes.append(
            "PLUS-TFM: pairs longer than its context are resampled or left out, so its pairs are shorter than the "
            "corpus mean (an upper bound)"
        )
    pairs = corpus.test_pairs
    test = _pairs_pass("test pairs", pairs.value, f"{pairs.value or 0:,.0f} pairs", corpus.test, passes_per_pair)
    test = Pass(test.what, test.stage, test.residues, test.formula, (pairs.source, *test.sources))
    if job.objective == "none":
        notes.append("objective none: no training; the encoder's initialisation scores the test pairs once")
        return Work((test,), tuple(notes))
    if job.objective == "mlm":
        notes.append("MLM only: timed with the MLM + SFP step figure (it skips the SFP score, so runs a little faster)")
    train = corpus.train
    if t.max_steps:
        steps: float | None = t.max_steps
        steps_text, step_sources = f"max_steps {t.max_steps:,}", ()
    elif train.records.value is None:
        steps, steps_text, step_sources = None, "? steps", (train.records.source,)
    else:
        records = f"{train.records.value:,.0f}"
        if t.last_batch == "keep":
            per_epoch, division = math.ceil(train.records.value / t.batch_pairs), f"ceil({records} / {t.batch_pairs})"
        else:
            per_epoch, division = int(train.records.value // t.batch_pairs), f"{records} // {t.batch_pairs}"
        steps = t.epochs * per_epoch
        steps_text = f"{t.epochs} epochs x {per_epoch:,} steps ({division})"
        step_sources = (train.records.source,)
    training = Pass(
        "training",
        "pretrain",
        _times(steps, t.batch_pairs, 2, train.mean_length.value),
        f"{steps_text} x {t.batch_pairs} pairs x 2 x {train.length_text}",
        (*step_sources, train.mean_length.source),
    )
    validations = None if steps is None else int(steps // t.val_every_n_steps)
    val_pairs = pairs.value if pairs.value is None or t.max_val_pairs is None else min(t.max_val_pairs, pairs.value)
    validation = _pairs_pass(
        "validation",
        _times(validations, val_pairs),
        f"{validations if validations is not None else '?'} validations x {val_pairs or 0:,.0f} pairs",
        corpus.test,
        passes_per_pair,
    )
    return Work((training, validation, test), tuple(notes))


def finetune_work(job: FinetuneJob, sizes: dict[str, SplitSize]) -> Work:
    """Epochs x training residues (homology: sampled pairs) plus one validation pass per epoch."""
    t, spec = job.training, job.task
    train, valid = sizes["train"], sizes["valid"]
    if spec.task_shape.pairs:
        epochs, per_epoch, per_record = t.homology_epochs, float(t.homology_pairs_per_epoch), 2
        records_text, sources = f"{t.homology_pairs_per_epoch:,} pairs x 2", (train.mean_length.source,)
        notes = [f"homology: all {epochs} epochs run (no early stopping); pairs are drawn from the training domains"]
    else:
        epochs, per_epoch, per_record = t.max_epochs, train.records.value, 1
        records_text, sources = f"{per_epoch or 0:,.0f} sequences", train.sources
        notes = [f"at most {epochs} epochs: early stopping (patience {t.patience}) may end it sooner"]
    epochs_run: float | None = epochs
    records = _times(epochs, per_epoch)
    formula = f"{epochs} epochs x {records_text}"
    if t.max_steps and per_epoch is not None and t.max_steps < epochs * math.ceil(per_epoch / t.batch_size):
        records = float(t.max_steps * t.batch_size)
        epochs_run = math.ceil(t.max_steps / math.ceil(per_epoch / t.batch_size))
        formula = f"max_steps {t.max_steps:,} x batch {t.batch_size}" + (" pairs x 2" if per_record == 2 else "")
    training = Pass(
        "training",
        "finetune",
        _times(records, per_record, train.mean_length.value),
        f"{formula} x {train.length_text}",
        sources,
    )
    validation = Pass(
        "validation",
        "inference",
        _times(epochs_run, valid.residues),
        f"{epochs_run} epochs x valid ({valid.formula()})",
        valid.sources,
    )
    return Work((training, validation), tuple(notes))


def evaluate_work(job: EvaluateJob, sizes: dict[str, SplitSize]) -> Work:
    """A forward pass over every test split (homology: and over valid, to fit the accuracy thresholds)."""
    splits = (("valid",) if job.task.task_shape.pairs else ()) + job.task.test_splits
    passes = tuple(
        Pass(split, "inference", sizes[split].residues, f"{split} ({sizes[split].formula()})", sizes[split].sources)
        for split in splits
    )
    notes = ("homology: the valid pairs are scored too (accuracy thresholds)",) if job.task.task_shape.pairs else ()
    return Work(passes, notes)


def import_work(sizes: dict[str, SplitSize]) -> Work:
    """Every split read and checked (no throughput is measured for imports)."""
    passes = tuple(
        Pass(split, "import", size.residues, f"{split} ({size.formula()})", size.sources)
        for split, size in sizes.items()
    )
    return Work(passes)


def prepare_pfam_work(corpus: CorpusSize) -> Work:
    """Every Pfam sequence read."""
    length = corpus.train.mean_length
    read = Pass(
        "Pfam-A.fasta",
        "prepare_pfam",
        _times(corpus.read.value, length.value),
        f"{corpus.read.value or 0:,.0f} sequences x {corpus.train.length_text}",
        (corpus.read.source, length.source),
    )
    return Work((read,))
