"""What the report plots: per device, each variant's latest latency beside its size and accuracy."""

from __future__ import annotations

from dataclasses import dataclass

from edgeship.manifest import Benchmark, Manifest, Variant


@dataclass(frozen=True)
class Point:
    """One variant measured on one device."""

    variant: Variant
    benchmark: Benchmark

    @property
    def p50(self) -> float:
        return self.benchmark.latency_ms.p50

    @property
    def megabytes(self) -> float:
        return self.variant.bytes / 1e6


def latest_benchmarks(manifest: Manifest) -> dict[str, dict[str, Benchmark]]:
    """Device -> variant id -> its most recent benchmark, devices in the order first measured."""
    by_device: dict[str, dict[str, Benchmark]] = {}
    for benchmark in sorted(manifest.benchmarks, key=lambda b: b.measured_at):
        by_device.setdefault(benchmark.device, {})[benchmark.variant] = benchmark
    return by_device


def device_points(manifest: Manifest, benchmarks: dict[str, Benchmark]) -> list[Point]:
    """The bundle's variants that have a benchmark on this device, in manifest order."""
    return [Point(v, benchmarks[v.id]) for v in manifest.variants if v.id in benchmarks]


def pareto_front(points: list[Point]) -> list[Point]:
    """Points no other point beats on both latency (lower) and accuracy (higher), fastest first."""
    scored = sorted(
        (p for p in points if p.variant.accuracy is not None),
        key=lambda p: (p.p50, -(p.variant.accuracy or 0.0)),
    )
    front: list[Point] = []
    for point in scored:
        if not front or (point.variant.accuracy or 0.0) > (front[-1].variant.accuracy or 0.0):
            front.append(point)
    return front
