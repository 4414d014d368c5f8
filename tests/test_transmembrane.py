"""Transmembrane topology: grammar-constrained Viterbi, TM segments, protein-level correctness."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pandas as pd
import pytest

from plus.errors import InputError
from plus.metrics.task import task_metrics
from plus.metrics.transmembrane import (
    _viterbi,
    authors_state_machine,
    authors_tm_regions,
    authors_topology,
    authors_topology_correct,
    n_terminal_side,
    tm_segments,
    topology_correct,
    transmembrane_metrics,
    viterbi_topology,
)
from plus.tasks import BUILTIN_TASKS

INDEX = {"I": 0, "O": 1, "M": 2}


def log_probs_for(topology: str, confidence: float = 3.0, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Log-softmax of logits that favour the letters of `topology` by `confidence`, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=noise, size=(len(topology), 3)) if noise else np.zeros((len(topology), 3))
    logits[np.arange(len(topology)), [INDEX[c] for c in topology]] += confidence
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def random_log_probs(length: int, seed: int) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(scale=2.0, size=(length, 3))
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def obeys_grammar(topology: str, shortest: int, longest: int, open_ends: bool = True) -> bool:
    """Independent check of the grammar: helix lengths in range, I/O alternate across helices, no I-O contact."""
    runs = [(letter, len(list(group))) for letter, group in itertools.groupby(topology)]
    for index, (letter, size) in enumerate(runs):
        if letter == "M":
            if not shortest <= size <= longest:
                return False
            touches_end = index == 0 or index == len(runs) - 1
            if touches_end and not open_ends:
                return False
            if not touches_end and runs[index - 1][0] == runs[index + 1][0]:
                return False
        elif index + 1 < len(runs) and runs[index + 1][0] != "M":
            return False  # I directly next to O without a helix
    return True


def path_score(log_probs: np.ndarray, topology: str) -> float:
    return float(log_probs[np.arange(len(topology)), [INDEX[c] for c in topology]].sum())


# ---- tm_segments and topology_correct -------------------------------------------------------------------


def test_segment_starting_at_residue_zero_is_found() -> None:
    assert tm_segments("MMMIIIMMMOO") == [(0, 3), (6, 9)]
    assert tm_segments("IIMMMM") == [(2, 6)]
    assert tm_segments("IIOO") == []
    assert tm_segments("M") == [(0, 1)]


def test_missing_a_helix_at_residue_zero_is_wrong() -> None:
    true = "M" * 21 + "I" * 10
    assert topology_correct(true, true)
    # B&B's transmembrane_regions ignores a run starting at 0, so this prediction would count as correct there.
    assert not topology_correct("I" * 31, true)
    assert not topology_correct("I" * 31, true, same_side=False)


def test_overlap_threshold_is_five_residues() -> None:
    true = "I" * 10 + "M" * 21 + "O" * 30
    shifted = {shift: "I" * (10 + shift) + "M" * 21 + "O" * (30 - shift) for shift in (3, 16, 17)}
    assert topology_correct(shifted[3], true)
    assert topology_correct(shifted[16], true)  # overlap 21 - 16 = 5
    assert not topology_correct(shifted[17], true)  # overlap 4
    assert topology_correct(shifted[17], true, min_overlap=4)


def test_segment_count_must_match() -> None:
    true = "I" * 10 + "M" * 21 + "O" * 30
    extra = "I" * 10 + "M" * 21 + "O" * 5 + "M" * 21 + "I" * 4
    assert not topology_correct(extra, true)
    assert not topology_correct("I" * 61, true)
    assert topology_correct("O" * 61, "I" * 61)  # globular: no helix either way, side irrelevant


def test_n_terminal_side_is_checked_unless_disabled() -> None:
    true = "I" * 10 + "M" * 21 + "O" * 30
    flipped = "O" * 10 + "M" * 21 + "I" * 30
    assert not topology_correct(flipped, true)
    assert topology_correct(flipped, true, same_side=False)  # the B&B / PLUS criterion


def test_n_terminal_side() -> None:
    assert n_terminal_side("IIMMOO") == "I"
    assert n_terminal_side("MMOOMMII") == "I"
    assert n_terminal_side("MMIIMMOO") == "O"
    assert n_terminal_side("..OOMMII") == "O"
    assert n_terminal_side("MMM") is None


def test_unlabelled_truth_residues_are_not_membrane() -> None:
    true = "." * 5 + "O" * 5 + "M" * 21 + "I" * 10
    pred = "O" * 10 + "M" * 21 + "I" * 10
    assert topology_correct(pred, true)


def test_topology_correct_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="residues"):
        topology_correct("IIM", "IIMM")
    with pytest.raises(ValueError, match="letters"):
        topology_correct("IIX", "IIM")


# ---- viterbi_topology ---------------------------------------------------------------------------------


def test_viterbi_recovers_clear_topology_including_helix_at_both_ends() -> None:
    true = "M" * 21 + "I" * 10 + "M" * 21 + "O" * 30 + "M" * 21
    predicted = viterbi_topology(log_probs_for(true, confidence=1.5, noise=1.0))
    assert predicted == true
    assert tm_segments(predicted)[0] == (0, 21)
    assert topology_correct(predicted, true)


def test_viterbi_enforces_fixed_helix_length_and_alternation() -> None:
    # per-residue argmax would give a 10-residue helix with inside on both sides
    argmax_only = "I" * 20 + "M" * 10 + "I" * 20
    predicted = viterbi_topology(log_probs_for(argmax_only))
    assert obeys_grammar(predicted, 21, 21)
    assert all(end - start == 21 for start, end in tm_segments(predicted))


def test_viterbi_helix_length_is_configurable() -> None:
    true = "O" * 12 + "M" * 17 + "I" * 15 + "M" * 24 + "O" * 8
    log_probs = log_probs_for(true)
    assert viterbi_topology(log_probs, helix_length=(15, 25)) == true
    fixed = viterbi_topology(log_probs)
    assert {end - start for start, end in tm_segments(fixed)} == {21}


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("grammar", ["sided", "bepler"])
def test_viterbi_matches_brute_force_on_short_proteins(seed: int, grammar: str) -> None:
    length, shortest, longest = 9, 2, 3
    log_probs = random_log_probs(length, seed)
    if grammar == "bepler":  # both loop states emit log(p_I + p_O), each loop residue pays log(1/2)
        loop = np.logaddexp(log_probs[:, 0], log_probs[:, 1]) + math.log(0.5)
        scores = np.stack([loop, loop, log_probs[:, 2]], axis=1)
    else:
        scores = log_probs
    best = max(
        path_score(scores, "".join(candidate))
        for candidate in itertools.product("IOM", repeat=length)
        if obeys_grammar("".join(candidate), shortest, longest, open_ends=grammar == "sided")
    )
    topology, score = _viterbi(log_probs, (shortest, longest), grammar)
    assert obeys_grammar(topology, shortest, longest, open_ends=grammar == "sided")
    assert score == pytest.approx(best, abs=1e-9)
    assert path_score(scores, topology) == pytest.approx(best, abs=1e-9)


def explicit_state_viterbi(log_probs: np.ndarray, helix: int) -> float:
    """Best path score of the grammar written as an explicit HMM (I, O, helix I->O x n, helix O->I x n)."""
    n_states = 2 + 2 * helix
    allowed = np.zeros((n_states, n_states), dtype=bool)
    up, down = np.arange(2, 2 + helix), np.arange(2 + helix, 2 + 2 * helix)
    allowed[0, 0] = allowed[1, 1] = True
    allowed[0, up[0]] = allowed[1, down[0]] = True
    allowed[up[:-1], up[1:]] = allowed[down[:-1], down[1:]] = True
    allowed[up[-1], 1] = allowed[down[-1], 0] = True
    transition = np.where(allowed, 0.0, -np.inf)
    emission_column = np.array([0, 1] + [2] * (2 * helix))
    start = np.full(n_states, -np.inf)
    start[[0, 1, up[0], down[0]]] = 0.0
    end = np.full(n_states, -np.inf)
    end[[0, 1, up[-1], down[-1]]] = 0.0
    score = start + log_probs[0, emission_column]
    for t in range(1, len(log_probs)):
        score = (score[:, None] + transition).max(axis=0) + log_probs[t, emission_column]
    return float((score + end).max())


@pytest.mark.parametrize("seed", range(3))
def test_viterbi_matches_explicit_state_hmm_at_helix_length_21(seed: int) -> None:
    true = "I" * 30 + "M" * 21 + "O" * 40 + "M" * 21 + "I" * 20
    log_probs = log_probs_for(true, confidence=0.5, noise=2.0, seed=seed)
    topology, score = _viterbi(log_probs, (21, 21), "sided")
    assert score == pytest.approx(explicit_state_viterbi(log_probs, 21), abs=1e-9)
    assert path_score(log_probs, topology) == pytest.approx(score, abs=1e-9)
    assert obeys_grammar(topology, 21, 21)


def test_viterbi_is_fast_on_long_proteins() -> None:
    log_probs = random_log_probs(1000, seed=1)
    started = time.perf_counter()
    for _ in range(5):
        viterbi_topology(log_probs)
    assert (time.perf_counter() - started) / 5 < 0.25


def test_viterbi_handles_short_and_certain_inputs() -> None:
    assert viterbi_topology(log_probs_for("IIIII")) == "IIIII"
    with np.errstate(divide="ignore"):
        certain = np.log(np.eye(3)[[INDEX[c] for c in "OOOO"]])
    assert viterbi_topology(certain) == "OOOO"


def test_viterbi_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="log_softmax"):
        viterbi_topology(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="shape"):
        viterbi_topology(np.zeros((10, 4)))
    with pytest.raises(ValueError, match="empty"):
        viterbi_topology(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="helix_length"):
        viterbi_topology(log_probs_for("IIII"), helix_length=(5, 3))
    with pytest.raises(ValueError, match="grammar"):
        viterbi_topology(log_probs_for("IIII"), grammar="tmhmm")


def test_bepler_grammar_cannot_place_a_helix_at_residue_zero() -> None:
    true = "M" * 21 + "I" * 20
    assert viterbi_topology(log_probs_for(true)) == true
    assert tm_segments(viterbi_topology(log_probs_for(true), grammar="bepler"))[0][0] > 0


def test_bepler_grammar_by_hand() -> None:
    # Six residues, helices of exactly 2 (helix_length=(2, 2)); probabilities (I, O, M):
    #   r0, r1, r4, r5: (0.8, 0.1, 0.1)    r2, r3: (0.5, 0.1, 0.4)
    # Authors' grammar: a loop residue scores log((p_I + p_O) / 2), a helix residue log p_M; helices may not touch
    # either end. Loop residues then score 0.45 (r0, r1, r4, r5) and 0.3 (r2, r3) against 0.1 / 0.4 for M.
    #   no helix:            0.45^4 * 0.3^2 = 0.00369
    #   helix at r2-r3:      0.45^4 * 0.4^2 = 0.00656   <- best (any other helix takes an M of 0.1)
    # The loop letters carry no information; ties go to I, so the last loop is I and the one before the helix O:
    #   "OOMMII", score log(0.45^4 * 0.4^2).
    # Our sided grammar scores I and O separately and makes them alternate across a helix: "IIIIII" scores
    # 0.8^4 * 0.5^2 = 0.1024, while any helix would put an O of 0.1 on two residues (<= 0.8^2 * 0.4^2 * 0.1^2).
    probabilities = np.array([[0.8, 0.1, 0.1]] * 2 + [[0.5, 0.1, 0.4]] * 2 + [[0.8, 0.1, 0.1]] * 2)
    log_probs = np.log(probabilities)
    topology, score = _viterbi(log_probs, (2, 2), "bepler")
    assert topology == "OOMMII"
    assert score == pytest.approx(math.log(0.45**4 * 0.4**2))
    assert viterbi_topology(log_probs, helix_length=(2, 2), grammar="bepler") == "OOMMII"
    assert _viterbi(log_probs, (2, 2), "sided") == ("IIIIII", pytest.approx(math.log(0.8**4 * 0.5**2)))


# ---- metrics over a split -----------------------------------------------------------------------------


def test_transmembrane_metrics_by_hand() -> None:
    targets = ["I" * 10 + "M" * 21 + "O" * 9, "..OO" + "M" * 21 + "II"]
    predictions = ["I" * 10 + "M" * 20 + "O" * 10, "IIOO" + "M" * 10 + "O" * 13]
    topologies = ["I" * 10 + "M" * 21 + "O" * 9, "OOOOO" + "M" * 21 + "I"]
    result = transmembrane_metrics(targets, predictions, topologies)
    # residues: 40 labelled with 39 right; 25 labelled (two '.') with 2 + 10 right
    assert result["n_residues"] == 65
    assert result["accuracy"] == pytest.approx((39 + 12) / 65)
    assert result["accuracy_protein"] == 1.0
    flipped = ["O" * 10 + "M" * 21 + "I" * 9, topologies[1]]
    assert transmembrane_metrics(targets, predictions, flipped)["accuracy_protein"] == 0.5
    assert transmembrane_metrics(targets, predictions, flipped)["accuracy_protein_segments"] == 1.0
    assert "accuracy_protein_authors" not in result


def test_authors_protein_accuracy_scores_the_authors_topologies_without_side() -> None:
    targets = ["I" * 10 + "M" * 21 + "O" * 9, "O" * 10 + "M" * 21 + "I" * 9]  # helices at 10..31
    ours = ["I" * 10 + "M" * 21 + "O" * 9, "I" * 40]  # first right, second misses the helix
    # authors' decoder: first helix at 16..37 on the wrong side (15 residues overlap; side not checked), second right
    authors = ["O" * 16 + "M" * 21 + "I" * 3, targets[1]]
    result = transmembrane_metrics(targets, ours, ours, authors_topologies=authors)
    assert result["accuracy_protein"] == 0.5
    assert result["accuracy_protein_segments"] == 0.5
    assert result["accuracy_protein_authors"] == 1.0
    too_far = ["O" * 27 + "M" * 13, targets[1]]  # 27..40 overlaps 10..31 by 4 residues: wrong
    assert transmembrane_metrics(targets, ours, ours, authors_topologies=too_far)["accuracy_protein_authors"] == 0.5
    with pytest.raises(ValueError, match="authors' topologies"):
        transmembrane_metrics(targets, ours, ours, authors_topologies=authors[:1])


def test_task_metrics_transmembrane_uses_topology_column() -> None:
    target = "I" * 10 + "M" * 21 + "O" * 9
    frame = pd.DataFrame(
        {
            "split": "test",
            "id": ["p1"],
            "target": [target],
            "prediction": ["I" * 40],
            "topology": [target],
        }
    )
    spec = BUILTIN_TASKS["transmembrane"]
    result = task_metrics(spec, frame)
    assert result["accuracy"] == pytest.approx(10 / 40)
    assert result["accuracy_protein"] == 1.0
    assert result["n"] == 1
    assert task_metrics(spec, frame.drop(columns="topology"))["accuracy_protein"] == 0.0
    assert "accuracy_protein_authors" not in result
    authors = task_metrics(spec, frame.assign(topology_authors=["O" * 10 + "M" * 21 + "I" * 9]))
    assert authors["accuracy_protein_authors"] == 1.0  # the side is not checked
    assert authors["accuracy_protein"] == 1.0
    with pytest.raises(InputError, match="topology_authors"):
        task_metrics(spec, frame.assign(topology_authors=["X" * 40]))


# ---- the authors' decoder and criterion (soft grammar, residue-0 bug) ----------------------------------------

EPS = float(np.finfo(float).eps)


def reference_authors_decode(log_probs: np.ndarray, helix: int) -> str:
    """A plain re-statement of the PLUS authors' decoder: states I-loop, O-loop, signal (emits nothing) and two
    helix chains; each start/end/move scores log(allowed + eps) - log(number allowed + eps)."""
    inside, outside, signal = 0, 1, 2
    up = list(range(3, 3 + helix))  # I -> O helix
    down = list(range(3 + helix, 3 + 2 * helix))  # O -> I helix
    states = [inside, outside, signal, *up, *down]
    allowed = {inside: {inside, up[0]}, outside: {outside, down[0]}, signal: {inside, outside}}
    for chain, exit_state in ((up, outside), (down, inside)):
        for a, b in itertools.pairwise(chain):
            allowed[a] = {b}
        allowed[chain[-1]] = {exit_state}

    def soft(ok: bool, n_allowed: int) -> float:
        return math.log(float(ok) + EPS) - math.log(n_allowed + EPS)

    def emit(state: int, row: np.ndarray) -> float:
        p = np.exp(row).astype(np.float64)
        value = 0.0 if state == signal else (p[2] if state >= 3 else p[0] + p[1])
        return math.log(value) if value > 0 else -math.inf

    score = {s: soft(s in (inside, outside, signal), 3) + emit(s, log_probs[0]) for s in states}
    paths = {s: [s] for s in states}
    for row in log_probs[1:]:
        new_score, new_paths = {}, {}
        for s in states:
            source = max(states, key=lambda r: (score[r] + soft(s in allowed[r], len(allowed[r])), -r))
            new_score[s] = score[source] + soft(s in allowed[source], len(allowed[source])) + emit(s, row)
            new_paths[s] = [*paths[source], s]
        score, paths = new_score, new_paths
    final = max(states, key=lambda s: (score[s] + soft(s in (inside, outside), 2), -s))
    return "".join("IOS"[s] if s < 3 else "M" for s in paths[final])


def brute_force_authors_decodings(log_probs: np.ndarray, helix: int) -> set[str]:
    """Every state path scored; the letters of the best ones (I/O loops emit alike, so ties are common)."""
    n_states = 3 + 2 * helix
    start, end, moves, emits = authors_state_machine(helix)
    with np.errstate(divide="ignore"):
        emission = np.log(np.exp(log_probs).astype(np.float64) @ emits.T)
    paths = np.array(list(itertools.product(range(n_states), repeat=len(log_probs))))
    scores = start[paths[:, 0]] + end[paths[:, -1]] + emission[np.arange(len(log_probs)), paths].sum(axis=1)
    scores += moves[paths[:, :-1], paths[:, 1:]].sum(axis=1)
    best = paths[scores >= scores.max() - 1e-9]
    return {"".join("IOS"[s] if s < 3 else "M" for s in path) for path in best}


def log_probs_from(runs: list[tuple[str, int, float]]) -> np.ndarray:
    """float32 log-softmax rows, each run of `n` residues favouring `letter` by `strength` nats."""
    logits = np.concatenate([np.tile(np.eye(3)[INDEX[letter]] * strength, (n, 1)) for letter, n, strength in runs])
    return (logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)).astype(np.float32)


def test_authors_state_machine_prices_forbidden_moves_at_about_36_nats() -> None:
    start, end, moves, _ = authors_state_machine(21)
    assert start[0] == pytest.approx(math.log(1 / 3)) and start[3] == pytest.approx(math.log(EPS / 3))
    assert end[1] == pytest.approx(math.log(1 / 2)) and end[3] == pytest.approx(math.log(EPS / 2))
    assert moves[0, 0] == pytest.approx(math.log(1 / 2)) and moves[3, 4] == pytest.approx(0.0, abs=1e-12)
    assert moves[3, 1] == pytest.approx(math.log(EPS), rel=1e-9)  # leaving a helix early: -36.04
    assert -37.2 < moves[0, 1] < -36.0


@pytest.mark.parametrize("seed", range(12))
def test_authors_decoder_equals_exhaustive_search_and_the_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=rng.choice([2.0, 40.0]), size=(6, 3))
    log_probs = (logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)).astype(np.float32)
    decoded = authors_topology(log_probs, helix=2)
    assert decoded in brute_force_authors_decodings(log_probs, helix=2)
    assert decoded == reference_authors_decode(log_probs, helix=2)


@pytest.mark.parametrize("seed", range(4))
def test_authors_decoder_equals_the_reference_at_helix_21(seed: int) -> None:
    log_probs = log_probs_for("I" * 20 + "M" * 21 + "O" * 15 + "M" * 21 + "I" * 3, confidence=2.0, noise=3.0, seed=seed)
    assert authors_topology(log_probs.astype(np.float32)) == reference_authors_decode(log_probs.astype(np.float32), 21)


def test_authors_soft_grammar_takes_a_forbidden_short_helix_where_the_hard_one_cannot() -> None:
    """A signal-peptide-like hydrophobic stretch (residues our data leaves unlabelled): 12 residues favouring M
    by 3.5 nats gain about 42 nats, more than the ~36-nat price of a helix leaving its chain after 12 states; a
    21-residue helix there would cover 9 residues favouring a loop by 10 nats."""
    true = "." * 15 + "O" * 10 + "M" * 21 + "I" * 9
    log_probs = log_probs_from([("O", 3, 10.0), ("M", 12, 3.5), ("O", 10, 10.0), ("M", 21, 5.0), ("I", 9, 5.0)])
    theirs = authors_topology(log_probs)
    assert theirs == reference_authors_decode(log_probs, 21)
    assert tm_segments(theirs) == [(3, 15), (25, 46)]  # a 12-residue helix: impossible in a hard grammar
    hard = viterbi_topology(log_probs, grammar="bepler")
    assert tm_segments(hard) == [(25, 46)]
    assert not authors_topology_correct(theirs, true)
    assert authors_topology_correct(hard, true)
    metrics = transmembrane_metrics([true], [theirs], [hard], authors_topologies=[theirs])
    assert metrics["accuracy_protein_authors"] == 0.0 and metrics["accuracy_protein_segments"] == 1.0


def test_authors_criterion_loses_every_segment_of_a_topology_starting_in_the_membrane() -> None:
    true = "M" * 21 + "O" * 10 + "M" * 21 + "I" * 8
    assert authors_tm_regions(true) == [] and tm_segments(true) == [(0, 21), (31, 52)]
    assert authors_tm_regions("O" + true[1:]) == [(1, 21), (31, 52)]
    assert authors_topology_correct("M" * 5 + "O" * 55, true)  # no regions on either side: "correct"
    assert not authors_topology_correct("O" * 31 + "M" * 21 + "I" * 8, true)  # the right second helix: wrong
    # the residue-0 case through the decoder: residue 0 as a loop would cost 45 nats, more than a forbidden start
    log_probs = log_probs_from([("M", 1, 45.0), ("M", 20, 8.0), ("O", 10, 5.0), ("M", 21, 5.0), ("I", 8, 5.0)])
    theirs = authors_topology(log_probs)
    assert theirs.startswith("M") and theirs == reference_authors_decode(log_probs, 21)
    ours = viterbi_topology(log_probs)
    metrics = transmembrane_metrics([true], [ours], [ours], authors_topologies=[theirs])
    assert metrics["accuracy_protein_authors"] == 1.0  # zero regions against zero regions
    assert metrics["accuracy_protein"] == 1.0  # ours finds both segments, unchanged
    other = transmembrane_metrics([true], [ours], [ours], authors_topologies=["I" + theirs[1:]])
    assert other["accuracy_protein_authors"] == 0.0
