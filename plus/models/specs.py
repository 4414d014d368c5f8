"""Typed descriptions of the encoders a model entry can name (`encoder: {type: ..., ...}`); imports no torch.

`plus` is our own checkpoint (what `plus pretrain` writes); `plus-authors` the authors' released PLUS-RNN file;
`huggingface` a local transformers model directory; `onehot` and `blosum62` parameter-free controls; `random` the
architecture of another spec with freshly initialised, seeded weights. `plus.models.registry` builds them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from plus.settings import Settings, SettingsError, TaskSpec

Protocol = Literal["finetune", "probe"]
PROTOCOLS: tuple[str, ...] = ("finetune", "probe")


class PlusEncoderSpec(Settings):
    """Our checkpoint: `path` to a model.pt (the workflow fills it from pretraining), or only a `preset` for random."""

    type: Literal["plus"] = "plus"
    path: str | None = Field(None, min_length=1, description="our encoder or fine-tuned checkpoint (model.pt)")
    preset: str | None = Field(None, description="architecture only (used by `random`)")


class AuthorsEncoderSpec(Settings):
    """The authors' released PLUS-RNN_BASE.pt / PLUS-RNN_LARGE.pt, converted on load."""

    type: Literal["plus-authors"]
    path: str = Field(min_length=1)
    add_start_stop: bool = Field(True, description="feed their start/stop tokens, as their model was trained")


class HuggingFaceEncoderSpec(Settings):
    """A local transformers model directory (config.json, weights, tokenizer)."""

    type: Literal["huggingface"]
    path: str = Field(min_length=1)
    layer: int = Field(-1, description="hidden state: -1 the last, 0 the embeddings, k block k")
    max_residues: int | None = Field(None, ge=2, description="residues per window (default: the model's limit)")
    window_overlap: int | None = Field(None, ge=0, description="residues shared by neighbouring windows")


class OneHotEncoderSpec(Settings):
    """Control: the residue's one-hot vector (21 dimensions)."""

    type: Literal["onehot"]


class Blosum62EncoderSpec(Settings):
    """Control: the residue's BLOSUM62 row (21 dimensions)."""

    type: Literal["blosum62"]


WeightedSpec = Annotated[PlusEncoderSpec | AuthorsEncoderSpec | HuggingFaceEncoderSpec, Field(discriminator="type")]


class RandomEncoderSpec(Settings):
    """Control: the architecture of `like` (its weights are never read), initialised from `seed`."""

    type: Literal["random"]
    like: WeightedSpec
    seed: int = Field(0, ge=0)


EncoderSpec = Annotated[
    PlusEncoderSpec
    | AuthorsEncoderSpec
    | HuggingFaceEncoderSpec
    | OneHotEncoderSpec
    | Blosum62EncoderSpec
    | RandomEncoderSpec,
    Field(discriminator="type"),
]


ENCODER_TYPES = ("plus", "plus-authors", "huggingface", "onehot", "blosum62", "random")
_ADAPTER: TypeAdapter[Any] = TypeAdapter(EncoderSpec)
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key missing",
    "union_tag_not_found": "required key missing",
    "union_tag_invalid": "unknown encoder type",
}


def parse_encoder_spec(value: Any, where: str = "encoder") -> EncoderSpec:
    """A spec from a mapping (errors name `where.key`); a plain string is our own checkpoint's path (type plus)."""
    if isinstance(value, Settings):
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        value = {"type": "plus", "path": value}
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
    kind = spec.like.type if spec.type == "random" else spec.type
    return kind in ("plus", "plus-authors")


def encoder_inputs(spec: EncoderSpec) -> list[str]:
    """The files or directories a spec reads (what a workflow rule declares as inputs); none for controls."""
    source = spec.like if spec.type == "random" else spec
    path = getattr(source, "path", None)
    return [path] if path else []


class EmbedTaskJob(Settings):
    """What one `plus embed-task` job computes: one encoder's states for every split of one task."""

    encoder: EncoderSpec
    task: TaskSpec
    representation: Literal["h", "z"] | None = Field(None, description="default: what the task's head reads")
    layout: Literal["residues", "pooled"] | None = Field(None, description="default: pooled only for summing heads")
    dtype: Literal["float16", "float32"] = Field("float16", description="per-residue states (pooled: float32)")
    residues_per_batch: int = Field(8192, ge=1, description="padded residues per forward pass")
