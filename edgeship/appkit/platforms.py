"""What each platform's kit holds: where assets and code go, and which sample files fit which artifact."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Platform:
    """One mobile platform: its default artifact and the template files its kit copies."""

    name: str
    default_artifact: str
    assets_dir: str
    code_dir: str
    classifier: dict[str, str]
    """artifact kind -> the sample classifier for that runtime."""
    common: tuple[str, ...]
    text: tuple[str, ...]
    image: tuple[str, ...]
    dependency: dict[str, str]
    """artifact kind -> the line that adds its runtime to an app ({onnxruntime}: the converting version)."""

    def code_files(self, artifact: str, task_kind: str) -> list[str]:
        """The template files (relative to templates/<platform>/) this kit copies."""
        return [self.classifier[artifact], *self.common, *(self.text if task_kind == "text" else self.image)]


PLATFORMS: dict[str, Platform] = {
    "android": Platform(
        name="android",
        default_artifact="tflite",
        assets_dir="assets",
        code_dir="java/dev/edgeship/kit",
        classifier={"tflite": "LiteRtClassifier.kt", "ort": "OrtClassifier.kt"},
        common=("KitMetadata.kt",),
        text=("WordPieceTokenizer.java",),
        image=("ImagePreprocessor.kt",),
        dependency={
            "tflite": 'implementation("com.google.ai.edge.litert:litert:1.4.0")',
            "ort": 'implementation("com.microsoft.onnxruntime:onnxruntime-android:{onnxruntime}")',
        },
    ),
    "ios": Platform(
        name="ios",
        default_artifact="ort",
        assets_dir="Resources",
        code_dir="Sources",
        classifier={"ort": "OrtClassifier.swift", "tflite": "LiteRtClassifier.swift"},
        common=("KitMetadata.swift",),
        text=("WordPieceTokenizer.swift",),
        image=("ImagePreprocessor.swift",),
        dependency={
            "ort": "pod 'onnxruntime-objc', '~> {onnxruntime}'",
            "tflite": "pod 'TensorFlowLiteSwift'",
        },
    ),
}
