"""What every cell shares: one-line failures, running parity rows, verdicts and the attention check."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeship.conformance.results import Status
from edgeship.conformance.subjects import Subject
from edgeship.errors import EdgeshipError
from edgeship.tasks.base import get_task
from edgeship.tasks.classification import scaled_tolerance
from edgeship.tasks.feature_extraction_task import MIN_PARITY_COSINE, row_cosines

AGREEMENT_FLOOR = 0.9
"""Quantized cells pass when at least this share of argmaxes (per-token: real tokens' tags; extractive QA:
rows whose start and end are both kept) matches PyTorch fp32."""
EMBEDDING_COSINE_FLOOR = 0.98
"""Quantized embedding cells pass when their vectors keep at least this mean cosine to fp32's."""
SPAN_TASKS = frozenset({"question-answering"})
"""Tasks whose argmax runs over the sequence, per output channel (extractive QA: the answer's start and
end token), not over classes at each token."""
VOCABULARY_CLASSES = 100
"""More classes than this: a language model's vocabulary (judged on top-5 agreement when quantized)."""
THREADS = 1


@dataclass
class Outcome:
    """A cell's verdict: pass or fail, a one-line reason (or the numbers that passed) and metrics."""

    status: Status
    reason: str
    metrics: dict[str, float] = field(default_factory=dict)


class CellFailure(Exception):
    """A cell failed for the one-line reason in its message."""


def one_line(text: str, limit: int = 240) -> str:
    """`text` on one line, whitespace collapsed; a long one keeps its head and its tail (the cause)."""
    line = " ".join(str(text).split())
    if len(line) <= limit:
        return line
    tail = limit * 2 // 5
    return f"{line[: limit - tail - 5]} ... {line[-tail:]}"


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Turn any exception in the block into a CellFailure named after the stage that raised it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except CellFailure:
        raise
    except EdgeshipError as exc:
        raise CellFailure(one_line(f"{name}: {exc.message}")) from exc
    except Exception as exc:  # exporters, converters and runtimes raise many types
        raise CellFailure(one_line(f"{name}: {type(exc).__name__}: {exc}")) from exc


def run_session(session: Any, subject: Subject, output_names: list[str] | None = None) -> list[np.ndarray]:
    """Every parity row through `session` in batches it accepts; outputs in the subject's order."""
    rows = len(next(iter(subject.inputs.values())))
    batch = session.fixed_batch or subject.batch_size
    chunks = []
    for start in range(0, rows, batch):
        outputs = session.run({name: array[start : start + batch] for name, array in subject.inputs.items()})
        if output_names is not None:
            by_name = dict(zip(output_names, outputs, strict=True))
            outputs = [by_name[name] for name in subject.output_names]
        chunks.append(outputs)
    return [np.concatenate(parts).astype(np.float64) for parts in zip(*chunks, strict=True)]


def compare(
    actual: list[np.ndarray],
    expected: list[np.ndarray],
    task: str = "text-classification",
    scored: np.ndarray | None = None,
) -> dict[str, float]:
    """Max abs diff over every output; on the first, argmax and top-5 agreement (logits) or the cosine
    to PyTorch's vectors and top-10 neighbour agreement (feature-extraction).

    `scored` ([rows, tokens], per-token tasks) picks the real tokens: agreement counts their tags only,
    as a padded position's tag is never read; max|Δ| still spans every position. Extractive QA's argmax
    runs over those real tokens instead (see `span_metrics`)."""
    if [a.shape for a in actual] != [e.shape for e in expected]:
        raise CellFailure(
            f"parity: output shapes {[list(a.shape) for a in actual]} differ from PyTorch's "
            f"{[list(e.shape) for e in expected]}"
        )
    diff = max(float(np.max(np.abs(a - e))) for a, e in zip(actual, expected, strict=True))
    if task == "feature-extraction":
        cosines = row_cosines(actual[0], expected[0])
        return {
            "max_abs_diff": diff,
            "min_cosine": float(np.min(cosines)),
            "mean_cosine": float(np.mean(cosines)),
            "neighbour_agreement": get_task(task).agreement(actual[0], expected[0]),
        }
    if task in SPAN_TASKS:
        return {"max_abs_diff": diff, **span_metrics(actual[0], expected[0], scored)}
    logits, reference = (
        (actual[0], expected[0]) if scored is None else (actual[0][scored], expected[0][scored])
    )
    target = reference.argmax(-1)
    top5 = np.argsort(-logits, axis=-1)[..., :5]
    metrics = {
        "max_abs_diff": diff,
        "argmax_agreement": float(np.mean(logits.argmax(-1) == target)),
        "top5_agreement": float(np.mean(np.any(top5 == target[..., None], axis=-1))),
        "classes": float(expected[0].shape[-1]),
        "largest_logit": float(np.max(np.abs(expected[0]))),
    }
    if scored is not None:
        metrics["scored_tokens"] = float(len(target))
        flipped = logits.argmax(-1) != target
        if flipped.any():  # how close PyTorch's own top two were where the tags differ: near-ties?
            top_two = np.sort(reference[flipped], axis=-1)[:, -2:]
            metrics["flipped_margin"] = float(np.max(top_two[:, 1] - top_two[:, 0]))
    return metrics


def span_metrics(logits: np.ndarray, reference: np.ndarray, scored: np.ndarray | None) -> dict[str, float]:
    """Extractive QA ([rows, tokens, 2]): per row, the start and the end token (argmax over the row's real
    tokens, padding masked out: a padded position is never an answer); a row agrees when both are the same.

    Where a start or end differs, `flipped_margin` is the largest gap between PyTorch's top two there."""
    real = np.ones(reference.shape[:2], dtype=bool) if scored is None else scored
    masked, masked_reference = (np.where(real[..., None], array, -np.inf) for array in (logits, reference))
    target = masked_reference.argmax(axis=1)  # [rows, 2]: start, end
    same = masked.argmax(axis=1) == target
    top5 = np.argsort(-masked, axis=1)[:, :5]
    metrics = {
        "argmax_agreement": float(np.mean(np.all(same, axis=-1))),
        "top5_agreement": float(np.mean(np.all(np.any(top5 == target[:, None], axis=1), axis=-1))),
        "classes": float(reference.shape[-1]),
        "largest_logit": float(np.max(np.abs(reference))),
        "scored_tokens": float(real.sum()),
        "span_rows": float(len(reference)),
        "start_flips": float(np.sum(~same[:, 0])),
        "end_flips": float(np.sum(~same[:, 1])),
    }
    if not same.all():  # how close PyTorch's own top two were where the start or end differs: near-ties?
        top_two = np.sort(masked_reference, axis=1)[:, -2:].transpose(0, 2, 1)[~same]
        metrics["flipped_margin"] = float(np.max(top_two[:, 1] - top_two[:, 0]))
    return metrics


def against_reference(outputs: list[np.ndarray], subject: Subject) -> dict[str, float]:
    """`compare` a cell's outputs with the subject's PyTorch outputs, judged as its task's outputs are."""
    return compare(outputs, subject.reference, subject.task, subject.scored_tokens)


def fp32_verdict(metrics: dict[str, float], tolerance: float) -> Outcome:
    """fp32 artifacts must match PyTorch within the architecture's tolerance (scaled with the logits, as
    `edgeship export` scales it) with every argmax equal (per-token: every real token's; extractive QA:
    every row's start and end); embeddings within the tolerance, every vector at cosine >= 0.9999 to
    PyTorch's (as `edgeship export` requires)."""
    if "min_cosine" in metrics:
        text = f"max|Δ| {metrics['max_abs_diff']:.1e}, min cosine {metrics['min_cosine']:.6f}"
        if metrics["max_abs_diff"] > tolerance or metrics["min_cosine"] < MIN_PARITY_COSINE:
            return Outcome("fail", f"parity: {text} (tolerance {tolerance:g})", metrics)
        return Outcome("pass", text, metrics)
    text = f"max|Δ| {metrics['max_abs_diff']:.1e}, {_agreement(metrics)}"
    tolerance = scaled_tolerance(tolerance, np.asarray(metrics["largest_logit"]))
    if metrics["max_abs_diff"] > tolerance or metrics["argmax_agreement"] < 1.0:
        return Outcome("fail", f"parity: {text} (tolerance {tolerance:g})", metrics)
    return Outcome("pass", text, metrics)


def quantized_verdict(metrics: dict[str, float]) -> Outcome:
    """Quantized artifacts must run and keep the fp32 argmax on at least AGREEMENT_FLOOR of the outputs.

    Over a language model's vocabulary random weights give near-flat logits, where any rounding swaps
    the top token; there the fp32 token must stay in the quantized top 5 instead. Embeddings must keep
    a mean cosine of at least EMBEDDING_COSINE_FLOOR to the fp32 vectors.
    """
    if "mean_cosine" in metrics:
        text = f"mean cosine {metrics['mean_cosine']:.4f}, top-10 neighbours {metrics['neighbour_agreement']:.3f}"
        if metrics["mean_cosine"] < EMBEDDING_COSINE_FLOOR:
            return Outcome("fail", f"accuracy: {text} (< {EMBEDDING_COSINE_FLOOR})", metrics)
        return Outcome("pass", text, metrics)
    vocabulary = metrics["classes"] > VOCABULARY_CLASSES
    agreement = metrics["top5_agreement" if vocabulary else "argmax_agreement"]
    text = (
        _agreement(metrics)
        + (f", top-5 {metrics['top5_agreement']:.3f}" if vocabulary or "span_rows" in metrics else "")
        + f", max|Δ| {metrics['max_abs_diff']:.2g}"
    )
    if agreement < AGREEMENT_FLOOR:
        return Outcome("fail", f"accuracy: {text} (< {AGREEMENT_FLOOR})", metrics)
    return Outcome("pass", text, metrics)


def _agreement(metrics: dict[str, float]) -> str:
    """'argmax agreement ...'; per-token, over how many real tokens and how many differ; extractive QA,
    over how many rows and how many starts and ends differ."""
    if "span_rows" in metrics:
        text = (
            f"start/end agreement {metrics['argmax_agreement']:.4f} over {metrics['span_rows']:.0f} rows "
            f"({metrics['scored_tokens']:.0f} real tokens)"
        )
        if "flipped_margin" in metrics:
            return (
                f"{text} (starts differ in {metrics['start_flips']:.0f} rows, ends in {metrics['end_flips']:.0f}; "
                f"PyTorch's top two within {metrics['flipped_margin']:.1e} there)"
            )
        return text
    if "scored_tokens" not in metrics:
        return f"argmax agreement {metrics['argmax_agreement']:.3f}"
    tokens = metrics["scored_tokens"]
    differing = round((1 - metrics["argmax_agreement"]) * tokens)
    text = f"argmax agreement {metrics['argmax_agreement']:.4f} over {tokens:.0f} real tokens"
    if "flipped_margin" in metrics:
        return f"{text} ({differing} differ, PyTorch's top two within {metrics['flipped_margin']:.1e} there)"
    return text


def attention_tensors(shapes: list[list[int]], length: int) -> str:
    """'full' when a batch-1 run holds per-head scores [1, heads, length, length]; 'sparse' otherwise.

    A [1, 1, length, length] tensor is a broadcast mask (Longformer builds one), not attention.
    """
    for shape in shapes:
        full_axes = [dim for dim in shape if dim == length]
        if len(full_axes) >= 2 and int(np.prod(shape)) >= 2 * length * length:
            return "full"
    return "sparse"


def onnx_profile_shapes(path: Path, subject: Subject, workdir: Path) -> list[list[int]]:
    """Every node output shape of one real run (onnxruntime's profiler), so dynamic axes are resolved."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(workdir / "profile")
    options.intra_op_num_threads = THREADS
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = {value.name for value in session.get_inputs()}
    session.run(None, {name: array[:1] for name, array in subject.inputs.items() if name in names})
    events = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
    shapes: list[list[int]] = []
    for event in events:
        for output in event.get("args", {}).get("output_type_shape", []):
            shapes.extend([int(dim) for dim in dims] for dims in output.values())
    return shapes
