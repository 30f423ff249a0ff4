"""The recipe file format: one typed model per section; keys are the single-step commands' flags."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from edgeship.compress.quantize.spec import SchemeId
from edgeship.export.registry import ExportOptions, available_formats
from edgeship.options import StepOptions, one_of
from edgeship.sources.model_source import ModelSource
from edgeship.step_options import (
    AppSettings,
    BenchSettings,
    DistillOptions,
    EvalOptions,
    Platform,
    QuantizeSettings,
    ReportOptions,
    RolloutSettings,
    StudentChoice,
    TrainingOptions,
)

BundleRole = Literal["teacher", "student"]
BUNDLE_ROLES: tuple[BundleRole, ...] = ("teacher", "student")
FormatName = Annotated[str, one_of("format", available_formats)]


def known_device(name: str) -> str:
    """`name` if it is a built-in device or one added with `edgeship devices add`, else a ValueError."""
    from edgeship.devices.config import BUILTIN_DEVICES, load_devices

    if name in BUILTIN_DEVICES:
        return name
    known = [*BUILTIN_DEVICES, *load_devices()]
    if name not in known:
        raise ValueError(
            f"unknown device '{name}' (choose from: {', '.join(known)}; "
            f"or first run `edgeship devices add {name} --ssh ...`)"
        )
    return name


def existing_data(spec: str) -> str:
    """`spec` if it names a bundled dataset or an existing file or folder, else a ValueError."""
    from edgeship.sources.datasets import DATASETS

    if spec not in DATASETS and not Path(spec).exists():
        raise ValueError(
            f"'{spec}' is neither an existing file or folder nor a bundled dataset ({', '.join(DATASETS)})"
        )
    return spec


DeviceName = Annotated[str, AfterValidator(known_device)]
DataSource = Annotated[str, AfterValidator(existing_data)]


class Section(StepOptions):
    """A recipe section: unknown keys are errors, values are immutable once loaded."""


class FineTune(Section):
    """Fine-tune the teacher on `data.train` before anything else (a new classification head)."""

    epochs: int = Field(default=1, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float | None = Field(default=None, gt=0, description="Default: 1e-4 for text, 1e-3 for images.")
    image_size: int = Field(default=64, ge=16, description="Images: training and export resolution.")


class Teacher(ModelSource):
    """The model to ship: `export MODEL` and its model flags (`--checkpoint`, `--task`, `--labels`, ...)."""

    model: str = Field(description="HF directory or hub id, timm:NAME, or packaged:NAME (offline weights).")
    fine_tune: FineTune | None = None


class Data(EvalOptions):
    """Training, evaluation and calibration data (`--data`, `--eval-data`, `--calibration-data`)."""

    train: DataSource = Field(
        description="A bundled dataset name (rotten_tomatoes, fashion_mnist) or CSV/JSONL/folder."
    )
    eval: DataSource | None = Field(
        default=None, description="Held-out data; default: eval_samples held out of train."
    )
    calibration: DataSource | None = Field(
        default=None, description="int8-static calibration data; default: train."
    )
    train_samples: int | None = Field(
        default=None, ge=8, description="Use the first N (shuffled) training examples."
    )
    eval_samples: int = Field(
        default=2000, ge=8, description="Held-out examples (taken from train, or the first N)."
    )
    seed: int = 0


class Export(ExportOptions):
    """Artifacts written per bundle: `export --format ...` once per format, with the export flags."""

    formats: list[FormatName] = Field(default_factory=lambda: ["onnx"], min_length=1)


SchemesByFormat = dict[str, list[SchemeId]]


class Quantize(QuantizeSettings):
    """Quantized variants per format (`quantize --scheme ... --format ...`), within an accuracy budget."""

    schemes: SchemesByFormat = Field(
        default_factory=dict, description="Format -> schemes, e.g. {onnx: [int8-dynamic, int4-weight]}."
    )


class Student(StudentChoice, TrainingOptions):
    """Distil the teacher into a student bundle (`distill --student ...` and its options)."""

    formats: list[FormatName] | None = Field(
        default=None, description="Default: export.formats; onnx comes first."
    )
    schemes: SchemesByFormat | None = Field(
        default=None, description="Default: quantize.schemes of the student's formats."
    )

    def distill_options(self, max_length: int, seed: int) -> DistillOptions:
        """The distill step's options: this section's, with the recipe's sequence length and seed."""
        chosen = self.model_fields_set - {"formats", "schemes"}
        return DistillOptions(
            max_length=max_length, seed=seed, **{name: getattr(self, name) for name in chosen}
        )


class DeviceRun(BenchSettings):
    """One device to benchmark on (`bench --device NAME` and its options)."""

    name: DeviceName
    variants: list[str] | None = Field(default=None, description="Variant ids; default: all.")
    bundles: list[BundleRole] = Field(default_factory=lambda: list(BUNDLE_ROLES))
    optional: bool = Field(
        default=False, description="A device that cannot be reached is reported, not fatal."
    )


class Push(RolloutSettings):
    """A staged rollout after the benchmarks (`push --devices ... --canary N`): canaries first, then the rest."""

    bundle: BundleRole | None = Field(default=None, description="Default: the student when there is one.")

    @field_validator("devices")
    @classmethod
    def _known_devices(cls, names: list[str]) -> list[str]:
        """Every rollout device exists before the run starts."""
        return [known_device(name) for name in names]


class Report(ReportOptions):
    """`report BUNDLE` for each bundle."""

    enabled: bool = True


class App(AppSettings):
    """`app BUNDLE --platform ...`: the mobile kits, from one bundle."""

    platforms: list[Platform] = Field(default_factory=list)
    bundle: BundleRole | None = Field(default=None, description="Default: the student when there is one.")


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
        if self.push.devices and (self.push.canary or 1) > len(self.push.devices):
            raise ValueError(
                f"push.canary {self.push.canary} is more than the {len(self.push.devices)} devices"
            )
        for _, _, schemes in self.format_plans():
            self.quantize.specs(name for names in schemes.values() for name in names)
        return self

    def student_formats(self) -> list[str]:
        """The student's formats (default: the teacher's)."""
        assert self.student is not None
        return self.student.formats or self.export.formats

    def student_schemes(self) -> SchemesByFormat:
        """The student's schemes per format (default: the teacher's, for the student's formats)."""
        assert self.student is not None
        if self.student.schemes is not None:
            return self.student.schemes
        return {f: schemes for f, schemes in self.quantize.schemes.items() if f in self.student_formats()}

    def format_plans(self) -> list[tuple[str, list[str], SchemesByFormat]]:
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
