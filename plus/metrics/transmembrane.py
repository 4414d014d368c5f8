"""Transmembrane metrics: grammar-constrained Viterbi topology, TM segments, protein-level correctness.

What is implemented (and how it differs from Bepler & Berger's `Grammar` / `is_prediction_correct`, which PLUS
reuses for its `acc_p`):

Decoding, `viterbi_topology(log_probs, helix_length=(21, 21), grammar="sided")`: the labelling in {I, O, M}^L
with the highest sum of per-residue log-probabilities such that every maximal run of M (a helix) has a length
in `helix_length` (default exactly 21, plus_method.md section 4.7), every helix inside a protein is flanked by
I on one side and O on the other (inside and outside alternate), and I/O loops are at least one residue long.
A full-length helix may start at residue 0 or end at the last residue (B&B's start/end probabilities forbid
both). Ties go to I before O, and to a loop before a helix.
`grammar="bepler"` scores paths as B&B's decoder does, with the grammar kept hard: both loop states emit
log(p_I + p_O) (so the I/O letters of its output carry no information), every loop residue pays log(1/2)
(their row-normalised transitions) and helices cannot touch either end. PLUS's copy of that decoder adds
machine epsilon inside every log, which turns each forbidden start, end or transition into a ~36-nat penalty
instead of a ban (a soft grammar); that softening is not reproduced here.

The authors' decoder itself, `authors_topology(log_probs, helix=21)`: the PLUS copy of B&B's state machine
(an inside loop, an outside loop, a signal-peptide state that emits nothing, and two chains of `helix` helix
states, I->O and O->I), every start, end and transition scored log(a + eps) - log(row sum + eps) with a in
{0, 1}: allowed moves cost log(1/k) for a row of k allowed moves, forbidden ones about 36 nats more. Emissions
are log(p_I + p_O) for the loops and log(p_M) for the helix states, from p = exp(log_probs) in the input's
precision. Ties go to the lowest state number. `authors_topology_correct` is their criterion, their residue-0
bug included (`authors_tm_regions`).

Correctness, `topology_correct(pred, true, min_overlap=5, same_side=True)`: the same number of TM segments,
the k-th predicted segment overlapping the k-th true segment by >= `min_overlap` residues and, when
`same_side` is True, the same N-terminal side (see `n_terminal_side`). B&B/PLUS check only the count and the
overlaps (B&B's 4-state version also requires a predicted signal peptide when the truth starts with one; the
3-state PLUS task has none): `same_side=False` gives exactly their criterion. Unlike their
`transmembrane_regions`, `tm_segments` finds a segment that starts at residue 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.special import logsumexp

from plus.metrics.secstr import residue_accuracy
from plus.tasks.alphabets import TOPOLOGY, UNLABELLED

Grammar = Literal["sided", "bepler"]
_NEG_INF = -math.inf
_HALF = math.log(0.5)
LOG_PROB_FLOOR = -1e6  # log(0) would turn the cumulative-sum differences into inf - inf


def _emissions(log_probs: np.ndarray, grammar: Grammar) -> tuple[list[float], list[float], list[float]]:
    """Per-residue scores of the inside, outside and membrane states."""
    e_in, e_out, e_mem = log_probs[:, 0], log_probs[:, 1], log_probs[:, 2]
    if grammar == "bepler":
        loop = np.logaddexp(e_in, e_out) + _HALF
        return loop.tolist(), loop.tolist(), e_mem.tolist()
    if grammar == "sided":
        return e_in.tolist(), e_out.tolist(), e_mem.tolist()
    raise ValueError(f"grammar must be 'sided' or 'bepler', not {grammar!r}")


def _check_log_probs(log_probs: np.ndarray) -> np.ndarray:
    log_probs = np.asarray(log_probs, dtype=float)
    if log_probs.ndim != 2 or log_probs.shape[1] != len(TOPOLOGY):
        raise ValueError(f"expected log-probabilities of shape [L, 3] (I, O, M order), got {log_probs.shape}")
    if len(log_probs) == 0:
        raise ValueError("cannot decode an empty protein")
    if np.isnan(log_probs).any() or np.isposinf(log_probs).any():
        raise ValueError("log-probabilities contain NaN or +inf")
    if not np.allclose(logsumexp(log_probs, axis=1), 0.0, atol=1e-3):
        raise ValueError("rows are not log-probabilities (apply log_softmax to the logits first)")
    return np.maximum(log_probs, LOG_PROB_FLOOR)


def viterbi_topology(
    log_probs: np.ndarray, helix_length: tuple[int, int] = (21, 21), grammar: Grammar = "sided"
) -> str:
    """Most probable I/O/M string under the TM grammar, from per-residue log-probabilities [L, 3] (I, O, M).

    Log-probabilities below LOG_PROB_FLOOR (including -inf) count as LOG_PROB_FLOOR.
    """
    return _viterbi(log_probs, helix_length, grammar)[0]


def _viterbi(log_probs: np.ndarray, helix_length: tuple[int, int], grammar: Grammar) -> tuple[str, float]:
    """(topology, its score). Two loop states; a helix is a delayed jump between them scored by cumulative sums.

    best_in[t] / best_out[t]: best score of residues 0..t with residue t in an inside / outside loop.
    entry_in[s] = best_in[s-1] - cum[s]: a helix I->O covering s..e scores entry_in[s] + cum[e+1], so each step
    only needs a maximum of entry_in over the allowed helix starts.
    """
    log_probs = _check_log_probs(log_probs)
    shortest, longest = (int(v) for v in helix_length)
    if not 1 <= shortest <= longest:
        raise ValueError(f"helix_length must be (min, max) with 1 <= min <= max, got {helix_length}")
    e_in, e_out, e_mem = _emissions(log_probs, grammar)
    length = len(e_in)
    cum = [0.0, *np.cumsum(e_mem).tolist()]
    open_ends = grammar == "sided"

    best_in, best_out = [e_in[0]], [e_out[0]]
    from_helix_in, from_helix_out = [-1], [-1]  # start of the helix that precedes a loop residue, or -1
    start_score = 0.0 if open_ends else _NEG_INF
    entry_in, entry_out = [start_score], [start_score]  # indexed by helix start s

    def best_entry(entries: list[float], end_exclusive: int) -> tuple[float, int]:
        """Best helix start for a helix ending just before `end_exclusive`."""
        lo, hi = max(0, end_exclusive - longest), end_exclusive - shortest
        if hi < 0:
            return _NEG_INF, -1
        start = max(range(lo, hi + 1), key=entries.__getitem__) if hi > lo else hi
        return entries[start] + cum[end_exclusive], start

    for t in range(1, length):
        entry_in.append(best_in[t - 1] - cum[t])
        entry_out.append(best_out[t - 1] - cum[t])
        helix_to_in, start_to_in = best_entry(entry_out, t)  # O -> I helix ending at t - 1
        helix_to_out, start_to_out = best_entry(entry_in, t)  # I -> O helix ending at t - 1
        if best_in[t - 1] >= helix_to_in:
            best_in.append(best_in[t - 1] + e_in[t])
            from_helix_in.append(-1)
        else:
            best_in.append(helix_to_in + e_in[t])
            from_helix_in.append(start_to_in)
        if best_out[t - 1] >= helix_to_out:
            best_out.append(best_out[t - 1] + e_out[t])
            from_helix_out.append(-1)
        else:
            best_out.append(helix_to_out + e_out[t])
            from_helix_out.append(start_to_out)

    endings = [(best_in[-1], "I", -1), (best_out[-1], "O", -1)]
    if open_ends:
        score, start = best_entry(entry_in, length)
        endings.append((score, "I>O", start))
        score, start = best_entry(entry_out, length)
        endings.append((score, "O>I", start))
    score, state, helix_start = max(endings, key=lambda ending: ending[0])

    labels = ["M"] * length
    position = length - 1
    if state in ("I>O", "O>I"):
        position = helix_start - 1
        state = state[0]
    while position >= 0:
        labels[position] = state
        helix_start = (from_helix_in if state == "I" else from_helix_out)[position]
        if helix_start < 0:
            position -= 1
        else:
            position = helix_start - 1  # residues helix_start..position-1 stay M
            state = "O" if state == "I" else "I"
    return "".join(labels), score


MACHINE_EPS = float(np.finfo(float).eps)
AUTHORS_HELIX = 21
_AUTHORS_LETTERS = "IOS"  # inside loop, outside loop, signal peptide (emits nothing, so it is never decoded)


def _soft_log(allowed: np.ndarray) -> np.ndarray:
    """log(a + eps) - log(sum(a) + eps) along the last axis: the authors' softened log-probabilities."""
    return np.log(allowed + MACHINE_EPS) - np.log(allowed.sum(axis=-1, keepdims=True) + MACHINE_EPS)


def authors_state_machine(helix: int = AUTHORS_HELIX) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(log start [S], log end [S], log transitions [S, S] (from, to), emission mask [S, 3]) of their decoder.

    States: 0 inside loop, 1 outside loop, 2 signal peptide, 3 .. 2+helix the I->O helix, then the O->I helix.
    """
    n_states = 3 + 2 * helix
    to_out, to_in = 3, 3 + helix  # first state of the I->O and O->I helix chains
    start, end = np.zeros(n_states), np.zeros(n_states)
    start[[0, 1, 2]] = 1.0
    end[[0, 1]] = 1.0
    moves = np.zeros((n_states, n_states))
    for source, target in [(0, 0), (0, to_out), (1, 1), (1, to_in), (2, 0), (2, 1)]:
        moves[source, target] = 1.0
    for first, exit_state in [(to_out, 1), (to_in, 0)]:
        for state in range(first, first + helix - 1):
            moves[state, state + 1] = 1.0
        moves[first + helix - 1, exit_state] = 1.0
    emits = np.zeros((n_states, 3))
    emits[[0, 1], 0] = emits[[0, 1], 1] = 1.0
    emits[3:, 2] = 1.0
    return _soft_log(start), _soft_log(end), _soft_log(moves), emits


def authors_topology(log_probs: np.ndarray, helix: int = AUTHORS_HELIX) -> str:
    """The PLUS authors' Viterbi decoding (soft grammar, see the module docstring) as an I/O/M string."""
    log_probs = np.asarray(log_probs)
    if log_probs.ndim != 2 or log_probs.shape[1] != len(TOPOLOGY) or len(log_probs) == 0:
        raise ValueError(f"expected log-probabilities of shape [L, 3] (I, O, M order), got {log_probs.shape}")
    log_start, log_end, log_moves, emits = authors_state_machine(helix)
    with np.errstate(divide="ignore"):
        emission = np.log(np.exp(log_probs) @ emits.T)  # [L, S]; the signal state's is -inf
    length, n_states = emission.shape
    back = np.zeros((length, n_states), dtype=np.int64)
    best = emission[0] + log_start
    for t in range(1, length):
        candidates = best[:, None] + log_moves + emission[t][None, :]
        back[t] = np.argmax(candidates, axis=0)
        best = np.max(candidates, axis=0)
    state = int(np.argmax(best + log_end))
    path = [state]
    for t in range(length - 1, 0, -1):
        state = int(back[t, state])
        path.append(state)
    return "".join(_AUTHORS_LETTERS[s] if s < 3 else "M" for s in reversed(path))


def authors_tm_regions(topology: str) -> list[tuple[int, int]]:
    """Their `transmembrane_regions`: every M run, except that a topology starting with M has none at all (a run
    opened at residue 0 is never closed, and no later one is opened)."""
    return [] if topology[:1] == "M" else tm_segments(topology)


def authors_topology_correct(pred: str, true: str, *, min_overlap: int = 5) -> bool:
    """Their `is_prediction_correct`: as many regions (`authors_tm_regions`) in both, the k-th predicted one
    overlapping the k-th true one by >= min_overlap residues; no side check. `.` and `S` are never M."""
    if len(pred) != len(true):
        raise ValueError(f"predicted topology has {len(pred)} residues, true topology {len(true)}")
    predicted, actual = authors_tm_regions(pred), authors_tm_regions(true)
    if len(predicted) != len(actual):
        return False
    return all(
        min(p_end, t_end) - max(p_start, t_start) >= min_overlap
        for (p_start, p_end), (t_start, t_end) in zip(predicted, actual, strict=True)
    )


def tm_segments(topology: str) -> list[tuple[int, int]]:
    """Half-open (start, end) of every maximal run of M, including one that starts at residue 0."""
    return [match.span() for match in re.finditer("M+", topology)]


def n_terminal_side(topology: str) -> str | None:
    """Side (I or O) of the N-terminus: the first I/O letter, flipped once per M run before it.

    None when the topology has no I or O letter at all.
    """
    flips = 0
    previous = ""
    for letter in topology:
        if letter == "M" and previous != "M":
            flips += 1
        if letter in "IO":
            return letter if flips % 2 == 0 else ("O" if letter == "I" else "I")
        previous = letter
    return None


def topology_correct(pred: str, true: str, *, min_overlap: int = 5, same_side: bool = True) -> bool:
    """Same number of TM segments, each predicted segment overlapping its true one by >= min_overlap residues,
    and (same_side) the same N-terminal side. `true` may contain `.` (unlabelled), which is never M.
    """
    if len(pred) != len(true):
        raise ValueError(f"predicted topology has {len(pred)} residues, true topology {len(true)}")
    unknown = (set(pred) - set(TOPOLOGY)) | (set(true) - set(TOPOLOGY) - {UNLABELLED})
    if unknown:
        raise ValueError(f"topology letters {sorted(unknown)} are not among {TOPOLOGY!r} (or '.' in the truth)")
    predicted, actual = tm_segments(pred), tm_segments(true)
    if len(predicted) != len(actual):
        return False
    for (p_start, p_end), (t_start, t_end) in zip(predicted, actual, strict=True):
        if min(p_end, t_end) - max(p_start, t_start) < min_overlap:
            return False
    if same_side and actual:
        true_side = n_terminal_side(true)
        if true_side is not None and n_terminal_side(pred) != true_side:
            return False
    return True


def transmembrane_metrics(
    targets: Sequence[str],
    predictions: Sequence[str],
    topologies: Sequence[str] | None = None,
    *,
    authors_topologies: Sequence[str] | None = None,
    min_overlap: int = 5,
) -> dict[str, float]:
    """`accuracy` (per residue, `.` skipped), `accuracy_protein` (topology_correct with the N-terminal side),
    `accuracy_protein_segments` (segments only, on the same topologies), `n_residues` and, when
    `authors_topologies` is given, `accuracy_protein_authors`.

    `predictions` are the per-residue letters (PLUS scores the undecoded argmax); `topologies` are the
    grammar-decoded strings for the protein-level metrics (`viterbi_topology`, default grammar); None uses
    `predictions`. `authors_topologies` are the strings of the authors' decoder (`authors_topology`):
    `accuracy_protein_authors` scores them with the authors' criterion (`authors_topology_correct`: segment count
    and >= `min_overlap` overlaps, no side check, their residue-0 bug), i.e. the PLUS code's acc_p, except that it
    is averaged over all proteins (the authors report the last evaluation batch's value: docs/fidelity.md).
    """
    accuracy, n_residues = residue_accuracy(targets, predictions, TOPOLOGY)
    topologies = predictions if topologies is None else topologies
    if len(topologies) != len(targets):
        raise ValueError(f"{len(targets)} target strings but {len(topologies)} topologies")

    def correct(decoded: Sequence[str], same_side: bool) -> float:
        return float(
            np.mean(
                [
                    topology_correct(p, t, min_overlap=min_overlap, same_side=same_side)
                    for p, t in zip(decoded, targets, strict=True)
                ]
            )
        )

    result = {
        "accuracy": accuracy,
        "accuracy_protein": correct(topologies, True),
        "accuracy_protein_segments": correct(topologies, False),
        "n_residues": n_residues,
    }
    if authors_topologies is not None:
        if len(authors_topologies) != len(targets):
            raise ValueError(f"{len(targets)} target strings but {len(authors_topologies)} authors' topologies")
        result["accuracy_protein_authors"] = float(
            np.mean(
                [
                    authors_topology_correct(p, t, min_overlap=min_overlap)
                    for p, t in zip(authors_topologies, targets, strict=True)
                ]
            )
        )
    return result
