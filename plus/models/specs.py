"""Encoder specs: one settings class per encoder type, each knowing how to open its encoder, initialise it afresh,
which files it reads and their sha256, and whether it predicts masked tokens.

The discriminated union `EncoderSpec` is the registry of encoder types: a new type is a new spec class (with the
module of its model) added to it, and everything else (parsing, the workflow's inputs, records, the report's
wording, the contract test every type passes) follows from the union. This module imports no torch: a spec
imports its model's module when asked for its encoder, so the workflow can read specs at `snakemake -n` time.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, get_args

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from plus.errors import InputError
from plus.settings_base import Settings, SettingsError

if TYPE_CHECKING:
    from typing import Self

    from torch import nn


class BaseEncoderSpec(Settings):
    """What every encoder type answers (the defaults: an encoder that reads nothing and has no weights)."""

    trained_elsewhere: ClassVar[bool] = False  # weights trained outside this workflow (report objective external)
    origin: ClassVar[str]  # where its weights come from, in the report's words

    @classmethod
    def type_name(cls) -> str:
        """The `type` key that selects this class."""
        return get_args(cls.model_fields["type"].annotation)[0]

    @property
    def source_path(self) -> str | None:
        """The file or directory the encoder is read from; None where nothing is read."""
        return None

    @property
    def has_mlm_head(self) -> bool:
        """Whether the encoder predicts masked tokens (else fine-tuning needs aux_mlm_weight 0)."""
        return False

    @property
    def made_here(self) -> bool:
        """Whether the workflow makes the weights (pretrains or initialises them) rather than reading them."""
        return False

    def inputs(self) -> list[str]:
        """The files or directories the spec reads (what a workflow rule declares as inputs); none for controls."""
        path = self.source_path
        return [path] if path else []

    @abstractmethod
    def open(self) -> nn.Module:
        """The encoder with its weights loaded, in eval mode."""

    def initialise(self, seed: int = 0) -> nn.Module:
        """The same architecture, untrained: weights freshly initialised from `seed` (its own are never read).

        The global random state is left as it was, so what a job draws after opening its encoder (a head's initial
        weights) does not depend on the encoder type.
        """
        import torch

        with torch.random.fork_rng(devices=[]):
            return self._initialised(seed)

    def _initialised(self, seed: int) -> nn.Module:
        """The architecture seeded with `seed` (the global random state may change)."""
        raise InputError(f"like: a {self.type_name()} encoder has no weights to re-initialise")

    def open_architecture(self) -> nn.Module:
        """The encoder with initial weights only: what a fine-tuned state dict is loaded into."""
        return self.open()

    def weights_sha256(self) -> str | None:
        """sha256 of the weights the spec reads (None for controls and random initialisations)."""
        return None

    def with_paths(self, resolve: Callable[[str], str]) -> Self:
        """The spec with each path it reads replaced by `resolve(path)`."""
        return self


class WeightsFileSpec(BaseEncoderSpec):
    """An encoder whose trained weights are read from `path` (declared by each subclass)."""

    trained_elsewhere: ClassVar[bool] = True
    origin: ClassVar[str] = "weights trained elsewhere"

    @property
    def source_path(self) -> str | None:
        return getattr(self, "path", None)

    def open_architecture(self) -> nn.Module:
        return self.initialise(0)

    def weights_sha256(self) -> str | None:
        path = self.source_path
        if path is None:
            return None
        if not Path(path).is_file():
            raise InputError(f"{path}: encoder weights file not found")
        from plus.io import file_sha256

        return file_sha256(path)

    def with_paths(self, resolve: Callable[[str], str]) -> Self:
        path = self.source_path
        return self if path is None else self.model_copy(update={"path": resolve(path)})


class PlusEncoderSpec(WeightsFileSpec):
    """Our checkpoint: `path` to a model.pt (the workflow fills it from pretraining), or only a `preset` for random."""

    type: Literal["plus"] = "plus"
    path: str | None = Field(None, min_length=1, description="our encoder or fine-tuned checkpoint (model.pt)")
    preset: str | None = Field(None, description="architecture only (used by `random`)")
    architecture: dict[str, Any] = Field({}, description="with a preset: config fields replacing the preset's")

    @model_validator(mode="after")
    def _architecture_of_preset(self) -> PlusEncoderSpec:
        if self.architecture and self.preset is None:
            raise ValueError("architecture: applies to a preset (a checkpoint carries its own)")
        return self

    @property
    def has_mlm_head(self) -> bool:
        return True

    @property
    def made_here(self) -> bool:
        return self.path is None

    def open(self) -> nn.Module:
        from plus.models.checkpoint import load_encoder

        if self.path is None:
            raise InputError("encoder.path: type plus needs our checkpoint (model.pt)")
        return load_encoder(self.path)

    def _initialised(self, seed: int) -> nn.Module:
        import torch

        from plus.models import build_encoder, parse_encoder_config
        from plus.models.checkpoint import load_checkpoint

        if self.path is None and self.preset is None:
            raise InputError("like: a plus encoder needs a path or a preset")
        if self.path is not None:
            config = parse_encoder_config(load_checkpoint(self.path)["model_config"], source=f"{self.path}")
        else:
            config = self.preset
        torch.manual_seed(seed)
        return build_encoder(config, **self.architecture).eval()


class AuthorsEncoderSpec(WeightsFileSpec):
    """The authors' released PLUS-RNN_BASE.pt / PLUS-RNN_LARGE.pt, converted on load."""

    type: Literal["plus-authors"]
    path: str = Field(min_length=1)
    add_start_stop: bool = Field(True, description="feed their start/stop tokens, as their model was trained")

    @property
    def has_mlm_head(self) -> bool:
        return True

    def open(self) -> nn.Module:
        from plus.models.authors import load_authors_encoder

        return load_authors_encoder(self.path, add_start_stop=self.add_start_stop)

    def _initialised(self, seed: int) -> nn.Module:
        import torch

        from plus.models.authors import AuthorsPlusRNN, authors_config, read_authors_state

        config = authors_config(read_authors_state(self.path), source=self.path)
        torch.manual_seed(seed)
        return AuthorsPlusRNN(config, add_start_stop=self.add_start_stop).eval()


class HuggingFaceEncoderSpec(WeightsFileSpec):
    """A local transformers model directory (config.json, weights, tokenizer)."""

    type: Literal["huggingface"]
    path: str = Field(min_length=1)
    layer: int = Field(-1, description="hidden state: -1 the last, 0 the embeddings, k block k")
    max_residues: int | None = Field(None, ge=2, description="residues per window (default: the model's limit)")
    window_overlap: int | None = Field(None, ge=0, description="residues shared by neighbouring windows")

    def open(self) -> nn.Module:
        return self._load(pretrained=True)

    def _initialised(self, seed: int) -> nn.Module:
        return self._load(pretrained=False, seed=seed)

    def _load(self, pretrained: bool, seed: int = 0) -> nn.Module:
        from plus.models.huggingface import load_huggingface_encoder

        return load_huggingface_encoder(
            self.path, self.layer, self.max_residues, self.window_overlap, pretrained=pretrained, seed=seed
        )

    def weights_sha256(self) -> str | None:
        from plus.models.huggingface import weights_sha256

        return weights_sha256(self.path)


class OneHotEncoderSpec(BaseEncoderSpec):
    """Control: the residue's one-hot vector (21 dimensions)."""

    origin: ClassVar[str] = "a fixed residue encoding, no weights (control)"

    type: Literal["onehot"]

    def open(self) -> nn.Module:
        from plus.models.controls import OneHotEncoder

        return OneHotEncoder().eval()


class Blosum62EncoderSpec(BaseEncoderSpec):
    """Control: the residue's BLOSUM62 row (21 dimensions)."""

    origin: ClassVar[str] = "a fixed residue encoding, no weights (control)"

    type: Literal["blosum62"]

    def open(self) -> nn.Module:
        from plus.models.controls import Blosum62Encoder

        return Blosum62Encoder().eval()


_WEIGHTED = PlusEncoderSpec | AuthorsEncoderSpec | HuggingFaceEncoderSpec
WeightedSpec = Annotated[_WEIGHTED, Field(discriminator="type")]


class RandomEncoderSpec(BaseEncoderSpec):
    """Control: the architecture of `like` (its weights are never read), initialised from `seed`."""

    origin: ClassVar[str] = "random initialisation of a pretrained architecture (control)"

    type: Literal["random"]
    like: WeightedSpec
    seed: int = Field(0, ge=0)

    @property
    def source_path(self) -> str | None:
        return self.like.source_path

    @property
    def has_mlm_head(self) -> bool:
        return self.like.has_mlm_head

    def open(self) -> nn.Module:
        return self.like.initialise(self.seed)

    def with_paths(self, resolve: Callable[[str], str]) -> Self:
        return self.model_copy(update={"like": self.like.with_paths(resolve)})


EncoderSpec = Annotated[
    _WEIGHTED | OneHotEncoderSpec | Blosum62EncoderSpec | RandomEncoderSpec,
    Field(discriminator="type"),
]

ENCODER_SPECS: tuple[type[BaseEncoderSpec], ...] = get_args(get_args(EncoderSpec)[0])
"""Every encoder type's spec class, in the union's order."""
ENCODER_TYPES: tuple[str, ...] = tuple(spec.type_name() for spec in ENCODER_SPECS)
_BY_TYPE: dict[str, type[BaseEncoderSpec]] = dict(zip(ENCODER_TYPES, ENCODER_SPECS, strict=True))
_ADAPTER: TypeAdapter[Any] = TypeAdapter(EncoderSpec)
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key missing",
    "union_tag_not_found": "required key missing",
    "union_tag_invalid": "unknown encoder type",
}


def encoder_spec_class(name: str) -> type[BaseEncoderSpec]:
    """The spec class of an encoder type, by its `type` name."""
    try:
        return _BY_TYPE[name]
    except KeyError:
        raise InputError(f"unknown encoder type {name!r}; known: {', '.join(ENCODER_TYPES)}") from None


def parse_encoder_spec(value: Any, where: str = "encoder") -> EncoderSpec:
    """A spec from a mapping (errors name `where.key`); a plain string is our own checkpoint's path (type plus)."""
    if isinstance(value, Settings):
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        value = {"type": PlusEncoderSpec.type_name(), "path": value}
    try:
        return _ADAPTER.validate_python(value)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            keys = [str(part) for part in item["loc"] if str(part) not in ENCODER_TYPES]
            if item["type"].startswith("union_tag"):
                keys.append("type")
            message = _MESSAGES.get(item["type"], str(item["msg"]).removeprefix("Value error, "))
            if "expected_tags" in item.get("ctx", {}):
                message += f" (one of {item['ctx']['expected_tags']})"
            problems.append(f"{'.'.join([where, *keys])}: {message}")
        raise SettingsError("; ".join(problems)) from None


def spec_has_mlm_head(spec: EncoderSpec) -> bool:
    """Whether the encoder a spec names predicts masked tokens (else fine-tuning needs aux_mlm_weight 0)."""
    return spec.has_mlm_head


def encoder_inputs(spec: EncoderSpec) -> list[str]:
    """The files or directories a spec reads (what a workflow rule declares as inputs); none for controls."""
    return spec.inputs()
