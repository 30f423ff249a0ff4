"""The recipe file format: one typed model per section; keys are the single-step commands' flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgeship.compress.quantize.spec import QuantizationOptions, QuantizationSpec, Scheme

Task = Literal["text-classification", "image-classification"]
BundleRole = Literal["teacher", "student"]
BUNDLE_ROLES: tuple[BundleRole, ...] = ("teacher", "student")


class Section(BaseModel):
    """A recipe section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FineTune(Section):
    """Fine-tune the teacher on `data.train` before anything else (a new classification head)."""

    epochs: int = Field(default=1, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float | None = Field(default=None, gt=0, description="Default: 1e-4 for text, 1e-3 for images.")
    image_size: int = Field(default=64, ge=16, description="Images: training and export resolution.")


class Teacher(Section):
    """The model to ship (`export MODEL`, `--checkpoint`, `--task`, `--labels`, `--revision`)."""

    model: str = Field(description="HF directory or hub id, timm:NAME, or packaged:NAME (offline weights).")
    checkpoint: Path | None = None
    task: Task | None = None
    labels: list[str] | None = None
    revision: str | None = None
    fine_tune: FineTune | None = None


class Data(Section):
    """Training, evaluation and calibration data (`--data`, `--eval-data`, `--calibration-data`)."""

    train: str = Field(
        description="A bundled dataset name (rotten_tomatoes, fashion_mnist) or CSV/JSONL/folder."
    )
    eval: str | None = Field(
        default=None, description="Held-out data; default: eval_samples held out of train."
    )
    calibration: str | None = Field(default=None, description="int8-static calibration data; default: train.")
    train_samples: int | None = Field(
        default=None, ge=8, description="Use the first N (shuffled) training examples."
    )
    eval_samples: int = Field(
        default=2000, ge=8, description="Held-out examples (taken from train, or the first N)."
    )
    split: str = Field(default="eval", description="Name of the eval split, recorded in the manifest.")
    batch_size: int = Field(default=32, ge=1, description="Evaluation batch size.")
    seed: int = 0


class Export(Section):
    """Artifacts written per bundle (`export --format ...` and its options)."""

    formats: list[str] = Field(default_factory=lambda: ["onnx"], min_length=1)
    max_length: int = Field(default=128, ge=8)
    opset: int | None = None
    optimize: bool = True
    parity_samples: int = Field(default=16, ge=1)
    precision: Literal["fp32", "fp16", "int8", "int4"] = "fp32"
    max_batch: int = Field(default=8, ge=1)
    workspace_mb: int = Field(default=2048, ge=1)
    timing_cache: Path | None = None
    device: str | None = Field(default=None, description="TensorRT: build the engines on this device.")


class Quantize(QuantizationOptions):
    """Quantized variants per format (`quantize --scheme ... --format ...`), within an accuracy budget."""

    schemes: dict[str, list[Scheme]] = Field(
        default_factory=dict, description="Format -> schemes, e.g. {onnx: [int8-dynamic, int4-weight]}."
    )
    max_accuracy_drop: float | None = Field(default=None, ge=0)
    min_agreement: float | None = Field(default=None, ge=0, le=1)
    source: str | None = Field(default=None, description="Variant to quantize (default: FORMAT-fp32).")

    def specs(self, scheme_names: list[Scheme]) -> list[QuantizationSpec]:
        """One spec per scheme, each with this section's options."""
        options = self.model_dump(include=set(QuantizationOptions.model_fields))
        return [QuantizationSpec(scheme=name, **options) for name in scheme_names]


class Student(Section):
    """Distil the teacher into a student bundle (`distill --student ...` and its options)."""

    family: str = Field(
        default="distilbert", description="distilbert, tinybert, mobilebert, efficientformer, custom."
    )
    layers: int | None = Field(default=None, ge=1)
    hidden_size: int | None = Field(default=None, ge=8)
    variant: str | None = None
    student_config: str | None = None
    epochs: int = Field(default=3, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=1e-4, gt=0)
    temperature: float | None = Field(default=None, gt=0)
    alpha: float | None = Field(default=None, ge=0, le=1)
    hidden_weight: float | None = Field(default=None, ge=0)
    attention_weight: float | None = Field(default=None, ge=0)
    hidden_loss: Literal["mse", "cosine"] | None = None
    checkpoint_every: int = Field(default=0, ge=0)
    checkpoint_dir: Path | None = None
    resume: Path | None = None
    mixed_precision: Literal["auto", "no", "fp16", "bf16"] = "auto"
    formats: list[str] | None = Field(default=None, description="Default: export.formats; onnx comes first.")
    schemes: dict[str, list[Scheme]] | None = Field(
        default=None, description="Default: quantize.schemes of the student's formats."
    )


class DeviceRun(Section):
    """One device to benchmark on (`bench --device NAME` and its options)."""

    name: str
    variants: list[str] | None = Field(default=None, description="Variant ids; default: all.")
    bundles: list[BundleRole] = Field(default_factory=lambda: list(BUNDLE_ROLES))
    threads: int | None = Field(default=None, ge=1)
    runs: int | None = Field(default=None, ge=1)
    warmup: int | None = Field(default=None, ge=0)
    batch: int = Field(default=1, ge=1)
    seq_len: int | None = Field(default=None, ge=1)
    optional: bool = Field(
        default=False, description="A device that cannot be reached is reported, not fatal."
    )


class Push(Section):
    """A staged rollout after the benchmarks (`push --devices ... --canary N`): canaries first, then the rest."""

    devices: list[str] = Field(default_factory=list, description="Device names, in rollout order.")
    canary: int = Field(default=1, ge=1)
    variant: list[str] | None = Field(default=None, description="Variant ids; default: all.")
    max_parity_diff: float | None = Field(default=None, ge=0)
    bundle: BundleRole | None = Field(default=None, description="Default: the student when there is one.")


class Report(Section):
    """`report BUNDLE` for each bundle."""

    enabled: bool = True
    out: Path | None = None


class App(Section):
    """`app BUNDLE --platform ...`: the mobile kits, from one bundle."""

    platforms: list[Literal["android", "ios"]] = Field(default_factory=list)
    bundle: BundleRole | None = Field(default=None, description="Default: the student when there is one.")
    artifact: Literal["tflite", "ort"] | None = None
    variant: str | None = None
    out: Path | None = None


class Tracking(Section):
    """Log parameters, metrics and bundles to an MLflow file store (the `mlflow` extra)."""

    mlflow: bool = False
    directory: Path | None = Field(default=None, description="Default: OUT/mlruns.")
    experiment: str = "edgeship"


class Recipe(Section):
    """Teacher -> student -> quantized variants -> artifacts -> benchmarks -> report and app kit."""

    version: Literal[1] = 1
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Bundle directory name.")
    out: Path = Path("out")
    teacher: Teacher
    data: Data
    export: Export = Field(default_factory=Export)
    quantize: Quantize = Field(default_factory=Quantize)
    student: Student | None = None
    devices: list[DeviceRun] = Field(default_factory=lambda: [DeviceRun(name="local")])
    push: Push = Field(default_factory=Push)
    report: Report = Field(default_factory=Report)
    app: App = Field(default_factory=App)
    tracking: Tracking = Field(default_factory=Tracking)

    @model_validator(mode="after")
    def _formats_are_exported(self) -> Recipe:
        """Every format that gets quantized is also exported."""
        for where, formats, schemes in self.format_plans():
            missing = sorted(set(schemes) - set(formats))
            if missing:
                raise ValueError(
                    f"{where} quantizes format {', '.join(missing)} which is not exported "
                    f"(formats: {', '.join(formats)})"
                )
        if self.student is not None and self.student_formats()[0] != "onnx":
            raise ValueError("the student's first format must be onnx (distill writes its onnx-fp32 variant)")
        for section in ("app", "push"):
            if getattr(self, section).bundle == "student" and self.student is None:
                raise ValueError(f"{section}.bundle is student but the recipe has no student section")
        if self.push.devices and self.push.canary > len(self.push.devices):
            raise ValueError(
                f"push.canary {self.push.canary} is more than the {len(self.push.devices)} devices"
            )
        return self

    def student_formats(self) -> list[str]:
        """The student's formats (default: the teacher's)."""
        assert self.student is not None
        return self.student.formats or self.export.formats

    def student_schemes(self) -> dict[str, list[Scheme]]:
        """The student's schemes per format (default: the teacher's, for the student's formats)."""
        assert self.student is not None
        if self.student.schemes is not None:
            return self.student.schemes
        return {f: schemes for f, schemes in self.quantize.schemes.items() if f in self.student_formats()}

    def format_plans(self) -> list[tuple[str, list[str], dict[str, list[Scheme]]]]:
        """(label, formats, schemes) for the teacher and, when there is one, the student."""
        plans = [("quantize.schemes", self.export.formats, self.quantize.schemes)]
        if self.student is not None:
            plans.append(
                (
                    "student.schemes",
                    self.student_formats(),
                    self.student_schemes(),
                )
            )
        return plans
