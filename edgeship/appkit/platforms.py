"""What each platform's kit holds: where assets and code go, and which sample files fit which artifact."""

from __future__ import annotations

from dataclasses import dataclass

from edgeship.appkit.heads import KitHead


@dataclass(frozen=True)
class Platform:
    """One app platform: its artifacts, the template files its kit copies and the devices it runs on."""

    name: str
    assets_dir: str
    code_dir: str
    classifier: dict[str, str]
    """artifact kind -> the sample classifier for that runtime (relative to templates/); the default first."""
    embedder: dict[str, str]
    """artifact kind -> the sample embedder (feature-extraction kits), same keys as `classifier`."""
    common: tuple[str, ...]
    text: tuple[str, ...]
    image: tuple[str, ...]
    dependency: dict[str, str]
    """artifact kind -> the line that adds its runtime to an app ({onnxruntime}: the converting version)."""
    device_arch: str
    """The `uname -m` of the devices whose benchmarks pick the kit's default variant; `browser`: the browser."""
    root_files: tuple[str, ...] = ()
    """Templates copied to the kit's top folder (the web page, package.json)."""
    tokenizer_files: bool = False
    """Whether the kit ships the bundle's tokenizer.json (JavaScript kits tokenize with tokenizers.js)."""

    @property
    def artifacts(self) -> tuple[str, ...]:
        """The artifact kinds its sample code runs, the default first."""
        return tuple(self.classifier)

    @property
    def default_artifact(self) -> str:
        """The artifact a kit gets without --artifact."""
        return self.artifacts[0]

    def sample(self, artifact: str, head: KitHead) -> str:
        """The sample class (relative to templates/) that runs `artifact` and reads `head`'s output."""
        return (self.embedder if head.kind == "embedding" else self.classifier)[artifact]

    def code_files(self, artifact: str, task_kind: str, head: KitHead) -> list[str]:
        """The template files (relative to templates/) this kit copies into its code folder."""
        return [
            self.sample(artifact, head),
            *self.common,
            *(self.text if task_kind == "text" else self.image),
        ]


PLATFORMS: dict[str, Platform] = {
    "android": Platform(
        name="android",
        assets_dir="assets",
        code_dir="java/dev/edgeship/kit",
        classifier={"tflite": "android/LiteRtClassifier.kt", "ort": "android/OrtClassifier.kt"},
        embedder={"tflite": "android/LiteRtEmbedder.kt", "ort": "android/OrtEmbedder.kt"},
        common=("android/KitMetadata.kt",),
        text=("android/WordPieceTokenizer.java",),
        image=("android/ImagePreprocessor.kt",),
        dependency={
            "tflite": 'implementation("com.google.ai.edge.litert:litert:1.4.0")',
            "ort": 'implementation("com.microsoft.onnxruntime:onnxruntime-android:{onnxruntime}")',
        },
        device_arch="aarch64",
    ),
    "ios": Platform(
        name="ios",
        assets_dir="Resources",
        code_dir="Sources",
        classifier={"ort": "ios/OrtClassifier.swift", "tflite": "ios/LiteRtClassifier.swift"},
        embedder={"ort": "ios/OrtEmbedder.swift", "tflite": "ios/LiteRtEmbedder.swift"},
        common=("ios/KitMetadata.swift",),
        text=("ios/WordPieceTokenizer.swift",),
        image=("ios/ImagePreprocessor.swift",),
        dependency={
            "ort": "pod 'onnxruntime-objc', '~> {onnxruntime}'",
            "tflite": "pod 'TensorFlowLiteSwift'",
        },
        device_arch="aarch64",
    ),
    "web": Platform(
        name="web",
        assets_dir="model",
        code_dir="src",
        classifier={"onnx": "web/edgeship-web.js", "tflite": "web/edgeship-web.js"},
        embedder={"onnx": "web/edgeship-web.js", "tflite": "web/edgeship-web.js"},
        common=("js/kit-core.js",),
        text=(),
        image=(),
        dependency={
            "onnx": "onnxruntime-web (WASM: SIMD, threads when the page is cross-origin isolated)",
            "tflite": "@litertjs/core (LiteRT.js, WASM)",
        },
        device_arch="browser",
        root_files=("web/index.html", "web/package.json"),
        tokenizer_files=True,
    ),
    "react-native": Platform(
        name="react-native",
        assets_dir="assets",
        code_dir="src",
        classifier={
            "ort": "react-native/EdgeshipClassifier.js",
            "onnx": "react-native/EdgeshipClassifier.js",
        },
        embedder={"ort": "react-native/EdgeshipEmbedder.js", "onnx": "react-native/EdgeshipEmbedder.js"},
        common=("js/kit-core.js",),
        text=(),
        image=(),
        dependency={
            "ort": "onnxruntime-react-native (the .ort format of ONNX Runtime's mobile builds)",
            "onnx": "onnxruntime-react-native",
        },
        device_arch="aarch64",
        root_files=("react-native/package.json",),
        tokenizer_files=True,
    ),
}
