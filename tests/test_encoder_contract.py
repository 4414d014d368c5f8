"""The contract every encoder type keeps, checked for every member of the `EncoderSpec` union.

The types come from the union itself: a new spec class added to it is collected here, and fails until EXAMPLES
says how to write a small instance of it (offline: tiny local files, no download).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest
import torch

from encoder_helpers import TheirPlusRNN, write_authors_file, write_tiny_esm2
from plus.errors import InputError
from plus.models import build_encoder
from plus.models.checkpoint import save_checkpoint
from plus.models.encoder import Encoder, has_mlm_head
from plus.models.registry import architecture, encoder_record, open_encoder, random_like
from plus.models.specs import (
    ENCODER_SPECS,
    ENCODER_TYPES,
    BaseEncoderSpec,
    EncoderSpec,
    WeightedSpec,
    encoder_spec_class,
    parse_encoder_spec,
)
from plus.tensors import pad_tokens
from plus.tokens import VOCAB_SIZE, encode

pytestmark = pytest.mark.usefixtures("one_thread")

SEQUENCES = ("MKVLAXWG", "ACDEF", "GHIKLMNPQRSTVWY")
PAIRED = ("QEGH", "WYVRK", "ND")
WEIGHTED_SPECS: tuple[type[BaseEncoderSpec], ...] = get_args(get_args(WeightedSpec)[0])

Example = Callable[[dict[str, Path]], dict[str, Any]]


def _random_of(member: type[BaseEncoderSpec]) -> Example:
    """A random spec like the first example of `member`."""
    return lambda files: {"type": "random", "like": EXAMPLES[member][0][1](files), "seed": 7}


EXAMPLES: dict[type[BaseEncoderSpec], list[tuple[str, Example]]] = {
    encoder_spec_class("plus"): [
        ("plus-rnn", lambda files: {"type": "plus", "path": str(files["plus-rnn"])}),
        ("plus-tfm", lambda files: {"type": "plus", "path": str(files["plus-tfm"])}),
    ],
    encoder_spec_class("plus-authors"): [
        ("plus-authors", lambda files: {"type": "plus-authors", "path": str(files["authors"])}),
    ],
    encoder_spec_class("huggingface"): [
        ("huggingface", lambda files: {"type": "huggingface", "path": str(files["esm2"])}),
    ],
    encoder_spec_class("onehot"): [("onehot", lambda files: {"type": "onehot"})],
    encoder_spec_class("blosum62"): [("blosum62", lambda files: {"type": "blosum62"})],
    encoder_spec_class("random"): [(f"random-{m.type_name()}", _random_of(m)) for m in WEIGHTED_SPECS],
}


def _cases() -> list[Any]:
    """One case per example of every member of the union; a member without examples is a failing case."""
    cases = []
    for member in ENCODER_SPECS:
        if member not in EXAMPLES:
            cases.append(pytest.param((member, None), id=member.type_name()))
        cases.extend(pytest.param((member, make), id=name) for name, make in EXAMPLES.get(member, []))
    return cases


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small weights of each kind, written locally."""
    root = tmp_path_factory.mktemp("contract")
    written = {}
    torch.manual_seed(0)
    for name, preset in (("plus-rnn", "plus-rnn-tiny"), ("plus-tfm", "plus-tfm-tiny")):
        encoder = build_encoder(preset)
        written[name] = root / f"{name}.pt"
        save_checkpoint(written[name], "encoder", encoder.config, encoder.state_dict())
    written["authors"] = write_authors_file(root / "PLUS-RNN.pt", TheirPlusRNN(hidden=16, layers=2, proj=8))
    try:
        import transformers  # noqa: F401
    except ImportError:
        return written
    written["esm2"] = write_tiny_esm2(root / "esm2")
    return written


@pytest.fixture
def spec(request: pytest.FixtureRequest, files: dict[str, Path]) -> BaseEncoderSpec:
    member, make = request.param
    if make is None:
        pytest.fail(f"{member.__name__} is in the EncoderSpec union but has no example here: add one to EXAMPLES")
    value = make(files)
    like = value.get("like", value)
    if like.get("type") == "huggingface" and "esm2" not in files:
        pytest.skip("transformers is not installed")
    parsed = parse_encoder_spec(value)
    assert isinstance(parsed, member)
    return parsed


def _batch(sequences: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    return pad_tokens([encode(s).tokens for s in sequences])


def _states(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in module.state_dict().items()}


def _same(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_the_union_is_the_registry() -> None:
    assert ENCODER_TYPES == ("plus", "plus-authors", "huggingface", "onehot", "blosum62", "random")
    assert len(set(ENCODER_TYPES)) == len(ENCODER_SPECS) == len(get_args(get_args(EncoderSpec)[0]))
    assert all(encoder_spec_class(name).type_name() == name for name in ENCODER_TYPES)
    assert set(WEIGHTED_SPECS) <= set(ENCODER_SPECS)
    assert all(isinstance(spec.origin, str) and spec.origin for spec in ENCODER_SPECS)
    with pytest.raises(InputError, match="unknown encoder type 'esm'"):
        encoder_spec_class("esm")


@pytest.mark.parametrize("spec", _cases(), indirect=True)
def test_h_and_z_have_their_shapes_and_padding_is_zero(spec: BaseEncoderSpec) -> None:
    encoder = spec.open()
    assert isinstance(encoder, Encoder) and not encoder.training
    tokens, lengths = _batch(SEQUENCES)
    with torch.no_grad():
        h = encoder(tokens, lengths)
        z = encoder.project(h)
        alone = [encoder(*_batch((sequence,)))[0] for sequence in SEQUENCES]
        h_cls, cls = encoder.encode_with_cls(tokens, lengths)
    batch, width = tokens.shape
    assert h.shape == (batch, width, encoder.d_h) and z.shape == (batch, width, encoder.d_z)
    assert torch.isfinite(h).all() and torch.isfinite(z).all()
    for row, length in enumerate(lengths.tolist()):
        assert h[row, length:].abs().sum() == 0, "h must be zero at padded positions"
        torch.testing.assert_close(h[row, :length], alone[row], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(h_cls, h)
    assert cls is None or cls.shape == (batch, encoder.d_h)
    assert has_mlm_head(encoder) == spec.has_mlm_head
    if spec.has_mlm_head:
        with torch.no_grad():
            assert encoder.mlm_logits(h).shape == (batch, width, VOCAB_SIZE)


@pytest.mark.parametrize("spec", _cases(), indirect=True)
def test_pairs_are_encoded_side_by_side(spec: BaseEncoderSpec) -> None:
    encoder = spec.open()
    a, len_a = _batch(SEQUENCES)
    b, len_b = _batch(PAIRED)
    with torch.no_grad():
        pair = encoder.encode_pair(a, len_a, b, len_b)
        h_a = encoder(a, len_a)
    assert pair.h_a.shape == (3, a.shape[1], encoder.d_h) and pair.h_b.shape == (3, b.shape[1], encoder.d_h)
    for h, lengths in ((pair.h_a, len_a), (pair.h_b, len_b)):
        assert all(h[row, length:].abs().sum() == 0 for row, length in enumerate(lengths.tolist()))
    if encoder.joint_pairs:
        assert pair.joint is not None and pair.joint.shape == (3, encoder.d_h)
    else:
        assert pair.joint is None
        torch.testing.assert_close(pair.h_a, h_a, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("spec", _cases(), indirect=True)
def test_fresh_initialisation_is_deterministic_per_seed(spec: BaseEncoderSpec) -> None:
    opened = _states(spec.open())
    rng = torch.random.get_rng_state()
    blank = _states(spec.open_architecture())
    assert blank.keys() == opened.keys()
    assert all(blank[name].shape == opened[name].shape for name in opened)
    assert _same(_states(architecture(spec.model_dump())), blank)
    if isinstance(spec, WEIGHTED_SPECS):
        first, again, other = (_states(spec.initialise(seed)) for seed in (3, 3, 4))
        assert _same(first, again) and not _same(first, other)
        assert _same(_states(random_like(spec, seed=3)), first)
    else:
        with pytest.raises(InputError, match="no weights to re-initialise"):
            spec.initialise(3)
    if opened and not spec.trained_elsewhere:  # weights drawn from a seed: the same seed, the same weights
        assert _same(_states(spec.open()), opened)
        reseeded = parse_encoder_spec({**spec.model_dump(), "seed": spec.model_dump().get("seed", 0) + 1})
        assert not _same(_states(reseeded.open()), opened)
    assert torch.equal(torch.random.get_rng_state(), rng), "initialising must leave the global random state"


@pytest.mark.parametrize("spec", _cases(), indirect=True)
def test_records_inputs_and_paths_come_from_the_spec(spec: BaseEncoderSpec) -> None:
    assert parse_encoder_spec(spec.model_dump(mode="json")) == spec
    record = encoder_record(spec.model_dump(mode="json"))
    assert record["type"] == spec.type_name() and record["path"] == spec.source_path
    assert record["spec"] == spec.model_dump(mode="json")
    assert (record["sha256"] is not None) == spec.trained_elsewhere
    if record["sha256"] is not None:
        assert len(record["sha256"]) == 64 and record["sha256"] == spec.weights_sha256()
    assert spec.inputs() == ([spec.source_path] if spec.source_path else [])
    assert all(Path(path).exists() for path in spec.inputs())
    assert spec.with_paths(lambda path: path) == spec
    moved = spec.with_paths(lambda path: f"/moved{path}")
    assert moved.inputs() == [f"/moved{path}" for path in spec.inputs()]
    assert type(moved) is type(spec) and not spec.made_here
    if spec.inputs():
        with pytest.raises(InputError):
            open_encoder(moved)
