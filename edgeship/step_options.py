"""One typed options model per step. Each field is declared once here (or on the lower-layer model it
extends: ExportOptions, QuantizationOptions, ModelSource) and becomes the CLI flag (edgeship.cli_options),
the recipe key (the recipe sections subclass these models), the Python argument (edgeship.api) and the
manifest's `produced_by` record. Light imports only: `edgeship --help` builds its flags from these."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from edgeship.appkit.artifacts import ARTIFACTS
from edgeship.appkit.platforms import PLATFORMS
from edgeship.compress.quantize.spec import QuantizationOptions, SchemeId
from edgeship.errors import DataError
from edgeship.export.registry import ExportOptions, available_formats
from edgeship.options import StepOptions, cli, one_of
from edgeship.sources.model_source import ModelSource


def split_commas(value: object) -> object:
    """`a,b` and repeated values alike: ["a,b", "c"] -> ["a", "b", "c"]."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], BeforeValidator(split_commas)]

BundleArgument = Annotated[Path, Field(description="Bundle directory.", json_schema_extra=cli(argument=True))]
VariantIds = Annotated[list[str] | None, Field(description="Variant id (repeatable); default: all.")]
RecipeOverrides = Annotated[
    list[str],
    Field(
        description="Override a recipe key: --set data.train_samples=500 (repeatable).",
        json_schema_extra=cli("--set"),
    ),
]
TrackWithMlflow = Annotated[bool, Field(description="Log the run to an MLflow file store (OUT/mlruns).")]


# --- export ---


class ExportStep(ModelSource, ExportOptions):
    """`edgeship export MODEL --out BUNDLE`: one artifact of a model, checked for parity."""

    model: str = Field(
        description="HF model directory or hub id (org/name), timm:NAME, or module.py:factory (a plain "
        "torch.nn.Module; give --task, and --tokenizer for text).",
        json_schema_extra=cli(argument=True),
    )
    out: Path = Field(
        description="Bundle directory to create or extend.", json_schema_extra=cli("--out", "-o")
    )
    format: Annotated[str, one_of("format", available_formats)] = Field(
        default="onnx",
        description=f"Artifact format: {', '.join(available_formats())}.",
        json_schema_extra=cli("--format", "-f"),
    )


# --- quantize ---


class QuantizeSettings(QuantizationOptions):
    """What `quantize` keeps of fp32 (the accuracy-aware fallback) and which variant it starts from."""

    max_accuracy_drop: float | None = Field(
        default=None,
        ge=0,
        description="Points of accuracy a variant may lose; more keeps the most sensitive layers float.",
    )
    min_agreement: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Least argmax agreement with fp32 on the eval data (e.g. 0.99); below, layers stay float.",
    )
    source: str | None = Field(
        default=None,
        description="Variant to quantize (default: FORMAT-fp32).",
        json_schema_extra=cli("--from"),
    )


class QuantizeStep(QuantizeSettings):
    """`edgeship quantize BUNDLE --scheme ...`: quantized variants of a bundle's fp32 artifact."""

    bundle: Path = Field(
        description="Bundle directory with an fp32 variant.", json_schema_extra=cli(argument=True)
    )
    scheme: Annotated[list[SchemeId], BeforeValidator(split_commas)] = Field(
        min_length=1, description="Schemes to apply; repeat or comma-separate for several."
    )
    format: str | None = Field(
        default=None,
        description="Which fp32 artifact to quantize (default: onnx, else the bundle's only one).",
        json_schema_extra=cli("--format", "-f"),
    )
    calibration_data: Path | None = Field(
        default=None,
        description="int8-static and int4-weight with gptq: data to calibrate on (as --eval-data, or texts).",
    )
    eval_data: Path | None = Field(
        default=None,
        description="Data for the task's metric: text,label CSV/JSONL or an image folder (accuracy), "
        "text1,text2,score pairs (feature-extraction: Spearman), or a bundled dataset name.",
    )
    eval_split: str = Field(default="eval", description="Name of the eval split, recorded in the manifest.")

    @model_validator(mode="after")
    def _consistent(self) -> QuantizeStep:
        self.specs(self.scheme)  # options no chosen scheme takes are refused here, before any work
        if (self.max_accuracy_drop is not None or self.min_agreement is not None) and self.eval_data is None:
            raise DataError(
                "--max-accuracy-drop and --min-agreement need --eval-data",
                hint="pass labelled data to measure accuracy on",
            )
        return self


# --- distill ---


class StudentChoice(StepOptions):
    """Which student to build from the teacher."""

    family: str = Field(
        default="distilbert",
        description="Student family: distilbert, tinybert, mobilebert, efficientformer or custom.",
        json_schema_extra=cli("--student", "--family"),
    )
    layers: int | None = Field(default=None, ge=1, description="Student depth (default: the family's).")
    hidden_size: int | None = Field(
        default=None,
        ge=8,
        description="tinybert: width; mobilebert: bottleneck; efficientformer (V2): last-stage width.",
    )
    variant: str | None = Field(
        default=None, description="efficientformer: timm variant, e.g. efficientformerv2_s1."
    )
    student_config: str | None = Field(
        default=None, description="custom: HF config.json, model directory or hub id."
    )


class TrainingOptions(StepOptions):
    """How the student is trained."""

    epochs: int = Field(default=3, ge=1, description="Passes over the training data.")
    batch_size: int = Field(default=32, ge=1, description="Training batch size.")
    lr: float = Field(default=1e-4, gt=0, description="Peak learning rate (linear warm-up and decay).")
    temperature: float | None = Field(
        default=None, gt=0, description="Soft-target temperature (default: the family's)."
    )
    alpha: float | None = Field(
        default=None, ge=0, le=1, description="Soft-target weight; hard labels get 1-alpha."
    )
    hidden_weight: float | None = Field(
        default=None, ge=0, description="Hidden-state / feature transfer weight."
    )
    attention_weight: float | None = Field(default=None, ge=0, description="Attention-map transfer weight.")
    hidden_loss: Literal["mse", "cosine"] | None = Field(
        default=None, description="Hidden-state transfer loss (default: the family's)."
    )
    checkpoint_every: int = Field(default=0, ge=0, description="Save a checkpoint every N steps (0: never).")
    checkpoint_dir: Path | None = Field(
        default=None, description="Where checkpoints go (default: OUT.checkpoints)."
    )
    resume: Path | None = Field(
        default=None, description="Resume from a checkpoint (step-* folder or checkpoint dir)."
    )
    mixed_precision: Literal["auto", "no", "fp16", "bf16"] = Field(
        default="auto", description="auto: bf16/fp16 on GPU, off on CPU."
    )


RUN_ONLY_OPTIONS = ("checkpoint_every", "checkpoint_dir", "resume", "mixed_precision")
"""Training options that do not change what is learnt (left out of the resume fingerprint)."""


class DistillOptions(StudentChoice, TrainingOptions):
    """Everything a distillation takes besides the teacher, the data and the output."""

    max_length: int = Field(default=64, ge=8, description="Text: sequence length for training and export.")
    seed: int = Field(default=0, description="Seeds the student's initialisation, batch order and dropout.")


class DistillStep(DistillOptions):
    """`edgeship distill --teacher ... --data ... --out ...`: a trained student as a new bundle."""

    teacher: str = Field(
        description="Teacher: HF classifier, token classifier, extractive QA model or sentence-encoder "
        "directory or hub id, or timm:NAME."
    )
    data: str = Field(
        description="Training data: labelled CSV/JSONL, image folder or rotten_tomatoes; for a token "
        "classifier tagged words (JSONL tokens/ner_tags, CoNLL, lee_ner); for a QA model questions with "
        "answers (SQuAD JSON/JSONL, lee_qa); for a sentence encoder any texts (a text column, text pairs, "
        "lee_background)."
    )
    out: Path = Field(
        description="New bundle directory for the student.", json_schema_extra=cli("--out", "-o")
    )
    eval_data: str | None = Field(
        default=None,
        description="Held-out data for the task's metric (default: 10% of --data; a token classifier's "
        "is tagged, e.g. lee_ner_test; a QA model's holds questions, e.g. lee_qa_test; a sentence encoder "
        "needs scored pairs, e.g. lee).",
    )
    teacher_checkpoint: Path | None = Field(default=None, description="timm teacher weights (.safetensors).")


# --- eval ---


class EvalOptions(StepOptions):
    """How accuracy is measured and recorded."""

    split: str = Field(default="eval", description="Name of the eval split, recorded in the manifest.")
    batch_size: int = Field(default=32, ge=1, description="Evaluation batch size.")


class EvalStep(EvalOptions):
    """`edgeship eval BUNDLE --data ...`: the task's metric (accuracy, Spearman) for every variant."""

    bundle: BundleArgument
    data: Path = Field(
        description="CSV/JSONL with text and label columns, an image folder DIR/<label>/, text1,text2,score "
        "pairs (feature-extraction), or a bundled dataset name (rotten_tomatoes, fashion_mnist_test, lee)."
    )
    variant: VariantIds = None


# --- debug ---


class DebugStep(StepOptions):
    """`edgeship debug BUNDLE --variant V`: every layer of a variant against PyTorch or another variant."""

    bundle: BundleArgument
    variant: str = Field(description="The variant to look into.")
    against: str = Field(
        default="fp32",
        description="Reference: fp32 (the variant's fp32 source; PyTorch for an fp32 variant), pytorch, or "
        "another variant's id.",
    )
    data: Path | None = Field(
        default=None,
        description="CSV/JSONL or image folder to feed (default: the bundle's parity inputs).",
    )
    samples: int = Field(default=16, ge=1, le=512, description="Inputs to run, one at a time.")
    model: str | None = Field(
        default=None,
        description="The PyTorch model the bundle was exported from (as `export MODEL` takes it), when "
        "--against pytorch and the bundle's source is not loadable here.",
    )
    checkpoint: Path | None = Field(default=None, description="timm / torch module weights for --model.")
    device: str = Field(
        default="local",
        description="Where the variant runs: local, or a device (its tensors come back, this machine compares).",
    )


# --- bench ---


class BenchSettings(StepOptions):
    """How a device times each variant."""

    threads: int | None = Field(
        default=None, ge=1, description="Intra-op threads (default: the device's cores)."
    )
    runs: int | None = Field(
        default=None, ge=1, description="Timed runs (default 50; 5 on emulated devices)."
    )
    warmup: int | None = Field(
        default=None, ge=0, description="Untimed warm-up runs (default 5; 1 when emulated)."
    )
    batch: int = Field(default=1, ge=1, description="Batch size.")
    seq_len: int | None = Field(
        default=None, ge=1, description="Text models: sequence length (default: the bundle's)."
    )


class BenchStep(BenchSettings):
    """`edgeship bench BUNDLE --device NAME`: latency of every variant on a device."""

    bundle: BundleArgument
    device: str = Field(
        default="local",
        description="Where to run: local, local-gpu, qemu-a72, browser (headless Chromium), or a device added "
        "with `edgeship devices add`.",
    )
    variant: VariantIds = None


# --- push ---


class RolloutSettings(StepOptions):
    """A staged rollout: canaries checked (benchmark, parity) before any device's live files change."""

    devices: CommaList = Field(
        default_factory=list,
        description="Staged rollout over these devices, in order: comma-separated or repeated.",
    )
    canary: int | None = Field(
        default=None,
        ge=1,
        description="Rollout: the first N devices get the files staged, benchmarked and parity-checked before "
        "any device's live files change (default 1).",
    )
    variant: VariantIds = None
    max_parity_diff: float | None = Field(
        default=None,
        ge=0,
        description="Rollout: max |device - this machine| over the outputs on a canary (default: the variant's "
        "parity tolerance, else 1e-3).",
    )


class PushStep(RolloutSettings):
    """`edgeship push BUNDLE --device NAME` or `--devices A,B,C`: copy variants to devices."""

    bundle: BundleArgument
    device: str | None = Field(default=None, description="A device added with `edgeship devices add`.")

    @model_validator(mode="after")
    def _one_target(self) -> PushStep:
        if bool(self.devices) == bool(self.device):
            raise ValueError("push needs one of --device NAME or --devices A,B,C, not both")
        return self


# --- report and app ---


class ReportOptions(StepOptions):
    """Where the report goes."""

    out: Path | None = Field(
        default=None,
        description="Directory for report.md, report.html and plots/ (default: the bundle).",
        json_schema_extra=cli("--out", "-o"),
    )


class ReportStep(ReportOptions):
    """`edgeship report BUNDLE`: Markdown and HTML report with plots."""

    bundle: BundleArgument


Platform = Annotated[str, one_of("platform", lambda: PLATFORMS)]


class AppSettings(StepOptions):
    """What an app kit ships."""

    artifact: Annotated[str, one_of("artifact", lambda: ARTIFACTS)] | None = Field(
        default=None,
        description="tflite (LiteRT), ort (ONNX Runtime mobile) or onnx; default: tflite on android, ort on "
        "ios and react-native, onnx on web.",
    )
    variant: str | None = Field(
        default=None,
        description="Variant to ship (default: the fastest on the platform's devices, then the smallest, "
        "within --max-accuracy-drop of the most accurate).",
    )
    max_accuracy_drop: float = Field(
        default=1.0,
        ge=0,
        description="Points of accuracy the default variant may be below the most accurate one.",
    )
    out: Path | None = Field(
        default=None,
        description="Directory that receives app/<platform>/ (default: the bundle).",
        json_schema_extra=cli("--out", "-o"),
    )
    force: bool = Field(
        default=False,
        description="Replace app/<platform>/ even when it holds files the last kit did not write.",
    )


class AppStep(AppSettings):
    """`edgeship app BUNDLE --platform android|ios|web|react-native`: the integration kit."""

    bundle: BundleArgument
    platform: Platform = Field(description="Target platform.", json_schema_extra=cli("--platform", "-p"))


# --- recipes ---


class RunStep(StepOptions):
    """`edgeship run RECIPE`: every step of a recipe, cached by content."""

    recipe: Path = Field(description="Recipe YAML (see examples/).", json_schema_extra=cli(argument=True))
    out: Path | None = Field(
        default=None,
        description="Output folder (default: the recipe's out).",
        json_schema_extra=cli("--out", "-o"),
    )
    set_values: RecipeOverrides = []
    force: bool = Field(default=False, description="Run every step again instead of reusing finished ones.")
    mlflow: TrackWithMlflow = False


class DemoStep(StepOptions):
    """`edgeship demo`: the packaged text recipe, offline."""

    out: Path = Field(
        default=Path("out"),
        description="Directory the demo's bundles go under.",
        json_schema_extra=cli("--out", "-o"),
    )
    set_values: RecipeOverrides = []
    force: bool = Field(
        default=False, description="Run every step again, the teacher's fine-tuning excepted."
    )
    mlflow: TrackWithMlflow = False


# --- support ---


class SupportStep(StepOptions):
    """`edgeship support`: the architecture conformance matrix."""

    saved: Path | None = Field(
        default=None,
        description="Show a run saved with --save instead of running the matrix.",
        json_schema_extra=cli("--from"),
    )
    families: str | None = Field(
        default=None, description="Comma-separated families (default: all; see docs/support-matrix.md)."
    )
    cells: str | None = Field(
        default=None,
        description="Comma-separated cells: onnx, onnx-int8, onnx-int4, tflite, tflite-int8 (default: all).",
    )
    tasks: str | None = Field(
        default=None,
        description="Comma-separated tasks of the task column: classification, feature-extraction, "
        "token-classification, question-answering, text-generation, audio-classification (default: all).",
    )
    markdown: Path | None = Field(
        default=None, description="Write the matrix as Markdown (docs/support-matrix.md)."
    )
    save: Path | None = Field(default=None, description="Save the run as JSON, for --from later.")
    timeout: float = Field(
        default=600, ge=1, description="Seconds one cell may run before it fails as a timeout."
    )
    workdir: Path | None = Field(
        default=None, description="Keep the exported artifacts here (default: a temp dir)."
    )
