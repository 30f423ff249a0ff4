"""The bundle manifest: a typed, versioned schema that every stage reads and writes."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

SCHEMA_VERSION = 1


Task = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="A task id (edgeship.tasks), as transformers names pipelines.",
    ),
]
Format = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="A registered artifact format.")]
Precision = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="fp32, or the quantization scheme that made it.")
]


def _inside_bundle(value: str) -> str:
    """A manifest path names a file inside the bundle: relative, POSIX, no `..`, no backslash."""
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts or "\\" in value or value[1:3] == ":/":
        raise ValueError(f"'{value}' is not a path inside the bundle (relative, without '..')")
    return value


BundlePath = Annotated[
    str, AfterValidator(_inside_bundle), Field(description="A path relative to the bundle root, inside it.")
]
DType = Literal["float32", "float16", "int64", "int32", "int8", "uint8", "bool"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Source(_Model):
    """Where the model came from and what it predicts."""

    model: str = Field(description="Hub id, local path or timm name the model was loaded from.")
    framework: Literal["transformers", "timm", "torch"]
    architecture: str = Field(
        description="Model class or timm model name, e.g. BertForSequenceClassification."
    )
    task: Task
    labels: list[str]
    pooling: Literal["mean", "cls"] | None = Field(
        default=None, description="feature-extraction: how token states become the embedding (in the graph)."
    )
    revision: str | None = None
    role: Literal["teacher", "student"] | None = None
    teacher: str | None = Field(default=None, description="For a student: the teacher it was distilled from.")


class TensorSpec(_Model):
    """One model input or output; a string dimension is dynamic (named axis)."""

    name: str
    dtype: DType
    shape: list[int | str]


QA_FIELDS = ("doc_stride", "max_answer_length")
"""Text preprocessing fields that only question-answering bundles have."""


class TextPreprocessing(_Model):
    """Tokenize with the tokenizer stored in the bundle, padded/truncated to `max_length`."""

    kind: Literal["text"] = "text"
    tokenizer: BundlePath = Field(description="Tokenizer directory, relative to the bundle root.")
    max_length: int = Field(gt=0)
    vocab_size: int = Field(gt=0, description="Token ids lie in [0, vocab_size).")
    doc_stride: int | None = Field(
        default=None,
        ge=0,
        description="question-answering: tokens shared by consecutive windows of a context longer than max_length.",
    )
    max_answer_length: int | None = Field(
        default=None, gt=0, description="question-answering: the longest answer span, in tokens."
    )

    @model_serializer(mode="wrap")
    def _omit_unset_task_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave out the question-answering fields of other tasks' manifests (they stay as they were)."""
        data = handler(self)
        return {key: value for key, value in data.items() if value is not None or key not in QA_FIELDS}


class ImagePreprocessing(_Model):
    """Resize, centre-crop and normalise an RGB image into NCHW float32."""

    kind: Literal["image"] = "image"
    size: tuple[int, int] = Field(description="Model input height and width.")
    resize_shorter_to: int = Field(gt=0, description="Shorter side after resizing, before the centre crop.")
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: Literal["bilinear", "bicubic", "nearest"] = "bilinear"


Preprocessing = Annotated[TextPreprocessing | ImagePreprocessing, Field(discriminator="kind")]


class Parity(_Model):
    """Agreement of an artifact with the PyTorch reference on the same inputs."""

    max_abs_diff: float = Field(ge=0)
    argmax_agreement: float = Field(
        ge=0,
        le=1,
        description="How often the predictions match: the argmax label (classifiers), the top-10 "
        "neighbours among the inputs (embeddings).",
    )
    cosine: float | None = Field(
        default=None, description="Embeddings: the smallest cosine to the reference's vector over the inputs."
    )
    samples: int = Field(gt=0)
    tolerance: float = Field(ge=0, description="The max_abs_diff this architecture and precision must meet.")
    reference: str = "pytorch-fp32"


class EvaluatedOn(_Model):
    """The labelled data a variant's score (`Variant.accuracy`) was measured on, and with which metric."""

    dataset: str
    split: str
    samples: int = Field(gt=0)
    metric: str = Field(default="accuracy", description="The task's metric that `accuracy` holds.")


class Producer(_Model):
    """The step that wrote an artifact, with its options and tool versions."""

    step: str
    options: dict[str, Any] = Field(default_factory=dict)
    tools: dict[str, str] = Field(default_factory=dict)


class GraphInfo(_Model):
    """Facts about an exported graph."""

    opset: int | None = None
    nodes: int = Field(ge=0)
    optimizer: str | None = Field(default=None, description="Graph optimizer applied, e.g. onnxruntime-bert.")
    fused_ops: dict[str, int] = Field(default_factory=dict)
    quantized_ops: dict[str, int] = Field(default_factory=dict)


class GpuTarget(_Model):
    """The GPU and TensorRT version an engine was built for: the only ones it runs on."""

    gpu: str = Field(description="GPU name as CUDA reports it, e.g. NVIDIA H100 80GB HBM3 or Orin.")
    compute_capability: str = Field(pattern=r"^\d+\.\d+$", description="CUDA compute capability, e.g. 8.7.")
    tensorrt: str = Field(description="TensorRT version that built the engine.")


class Variant(_Model):
    """One artifact of the model: a format at a precision."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    format: Format
    precision: Precision
    file: BundlePath = Field(description="Path relative to the bundle root.")
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    produced_by: Producer
    source_variant: str | None = Field(default=None, description="The variant this one was derived from.")
    kept_float: list[str] = Field(default_factory=list, description="Layers left in float by quantization.")
    inputs: list[TensorSpec] | None = Field(
        default=None,
        description="This file's own inputs when they differ from the bundle's (e.g. a static int32 .tflite).",
    )
    outputs: list[TensorSpec] | None = Field(
        default=None, description="This file's own outputs when they differ from the bundle's."
    )
    graph: GraphInfo | None = None
    parity: Parity | None = None
    built_for: GpuTarget | None = Field(
        default=None, description="TensorRT engines: the GPU and TensorRT version the engine only runs on."
    )
    accuracy: float | None = Field(default=None, ge=0, le=1)
    evaluated_on: EvaluatedOn | None = None
    eval_agreement: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Argmax agreement with the source variant on the same eval data.",
    )
    created_at: str = Field(default_factory=utc_now)


class LatencyStats(_Model):
    """Latency distribution in milliseconds."""

    p50: float
    p90: float
    p99: float
    mean: float
    std: float
    min: float


class Benchmark(_Model):
    """One latency measurement of a variant on a device."""

    variant: str
    device: str
    runtime: str
    runtime_version: str
    threads: int = Field(gt=0)
    batch: int = Field(gt=0)
    input_shapes: dict[str, list[int]]
    latency_ms: LatencyStats
    runs: int = Field(gt=0)
    warmup: int = Field(ge=0)
    emulated: bool = False
    raw: BundlePath = Field(description="Raw agent output, relative to the bundle root.")
    measured_at: str = Field(default_factory=utc_now)


SNR_CEILING_DB = 60.0
"""Layer SNRs at or above this count as exact: float runtimes differ from PyTorch by rounding alone."""
JUMP_DB = 6.0
"""A layer losing this much SNR against the layer before it is where the error jumps (4x the error)."""


class LayerError(_Model):
    """How far one layer's output in a variant is from the same layer in the reference."""

    layer: str = Field(
        description="PyTorch module path (the runtime's scope when no PyTorch model is at hand)."
    )
    tensor: str = Field(description="The variant's tensor aligned to that module's output.")
    shape: list[int]
    snr_db: float = Field(description="Signal-to-noise ratio of the output against the reference, in dB.")
    cosine: float
    max_abs_error: float
    relative_error: float = Field(description="||output - reference|| / ||reference||.")
    scale: float | None = Field(default=None, description="Quantized tensors: the activation scale.")
    zero_point: int | None = None
    clipped_fraction: float | None = Field(
        default=None, description="Quantized tensors: share of reference values outside the int8 range."
    )


class LayerDebug(_Model):
    """`edgeship debug`: a variant's layers lined up against a reference (PyTorch or another variant)."""

    variant: str
    against: str = Field(description="`pytorch` or a variant id.")
    device: str = "local"
    samples: int = Field(gt=0)
    data: str = Field(description="What the inputs were: the parity reference or a dataset.")
    layers: list[LayerError] = Field(description="In execution order (depth).")
    first_jump: str | None = Field(default=None, description="The first layer whose SNR falls sharply.")
    worst: list[str] = Field(default_factory=list, description="The layers that lose the most SNR.")
    raw: BundlePath = Field(description="The same as JSON, relative to the bundle root.")
    plot: BundlePath | None = Field(
        default=None,
        description="SNR against depth for this and the other variants against the same reference.",
    )
    measured_at: str = Field(default_factory=utc_now)


class Manifest(_Model):
    """The contract between stages: everything a bundle holds and how it was made."""

    schema_version: int = Field(default=SCHEMA_VERSION, strict=True, ge=1)
    created_with: str = Field(description="edgeship version that last wrote the manifest.")
    source: Source
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    preprocessing: Preprocessing
    parity_reference: BundlePath | None = Field(
        default=None, description="npz of the parity inputs and PyTorch fp32 logits, relative to the root."
    )
    variants: list[Variant] = Field(default_factory=list)
    benchmarks: list[Benchmark] = Field(default_factory=list)
    debug: list[LayerDebug] = Field(default_factory=list)

    def inputs_of(self, variant: Variant) -> list[TensorSpec]:
        """The inputs `variant`'s file takes: its own signature, else the bundle's."""
        return variant.inputs if variant.inputs is not None else self.inputs

    def variant(self, variant_id: str) -> Variant | None:
        """The variant with this id, if any."""
        return next((v for v in self.variants if v.id == variant_id), None)

    def put_variant(self, variant: Variant) -> None:
        """Add a variant, replacing one with the same id (and the layer comparisons made of the old one;
        its benchmarks too when the file changed: they timed another model)."""
        old = self.variant(variant.id)
        if old is not None and old.sha256 != variant.sha256:
            self.benchmarks = [b for b in self.benchmarks if b.variant != variant.id]
        self.variants = [v for v in self.variants if v.id != variant.id] + [variant]
        self.debug = [d for d in self.debug if variant.id not in (d.variant, d.against)]

    def put_benchmark(self, benchmark: Benchmark) -> None:
        """Add a benchmark, replacing the previous one for the same variant, device, threads and batch."""
        key = (benchmark.variant, benchmark.device, benchmark.threads, benchmark.batch)
        self.benchmarks = [b for b in self.benchmarks if (b.variant, b.device, b.threads, b.batch) != key] + [
            benchmark
        ]

    def put_debug(self, record: LayerDebug) -> None:
        """Add a layer comparison, replacing the previous one of the same variant, reference and device."""
        key = (record.variant, record.against, record.device)
        self.debug = [d for d in self.debug if (d.variant, d.against, d.device) != key] + [record]


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of manifest.json, generated from the typed model."""
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://edgeship.dev/schemas/manifest-v{SCHEMA_VERSION}.json"
    return schema
