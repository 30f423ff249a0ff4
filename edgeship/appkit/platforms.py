"""What each platform's kit holds: where assets and code go, and which sample files fit which artifact."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeship.appkit.heads import HEADS, KitHead


@dataclass(frozen=True)
class Platform:
    """One app platform: its artifacts, the template files its kit copies and the devices it runs on."""

    name: str
    assets_dir: str
    code_dir: str
    samples: dict[str, dict[str, str]]
    """head kind (KitHead.kind: classification, embedding, entities, answer) -> artifact kind -> the sample class
    for that runtime (relative to templates/); the artifacts in the same order for every kind, the default first."""
    common: tuple[str, ...]
    text: tuple[str, ...]
    image: tuple[str, ...]
    dependency: dict[str, str]
    """artifact kind -> the line that adds its runtime to an app ({onnxruntime}: the converting version)."""
    device_arch: str
    """The `uname -m` of the devices whose benchmarks pick the kit's default variant; `browser`: the browser."""
    head_files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """head kind -> templates only its kits copy into the code folder (the entity decoder of tagging kits, the
    question encoder and span decoder of question-answering kits)."""
    root_files: tuple[str, ...] = ()
    """Templates copied to the kit's top folder (the web page, package.json)."""
    tokenizer_files: bool = False
    """Whether the kit ships the bundle's tokenizer.json (JavaScript kits tokenize with tokenizers.js)."""

    @property
    def artifacts(self) -> tuple[str, ...]:
        """The artifact kinds its sample code runs, the default first."""
        return tuple(self.samples["classification"])

    @property
    def default_artifact(self) -> str:
        """The artifact a kit gets without --artifact."""
        return self.artifacts[0]

    def sample(self, artifact: str, head: KitHead) -> str:
        """The sample class (relative to templates/) that runs `artifact` and reads `head`'s output."""
        return self.samples[head.kind][artifact]

    def code_files(self, artifact: str, task_kind: str, head: KitHead) -> list[str]:
        """The template files (relative to templates/) this kit copies into its code folder."""
        return [
            self.sample(artifact, head),
            *self.common,
            *(self.text if task_kind == "text" else self.image),
            *self.head_files.get(head.kind, ()),
        ]


HEAD_KINDS = {head.kind: head.sample for head in HEADS.values()}
"""KitHead.kind -> its sample class's name stem (Classifier, Embedder, Tagger, Answerer)."""
RUNTIME_PREFIX = {"tflite": "LiteRt", "ort": "Ort"}


def _native(folder: str, suffix: str, artifacts: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Kotlin / Swift samples: <folder>/<Runtime><Sample>.<suffix> per head kind and artifact."""
    return {
        kind: {artifact: f"{folder}/{RUNTIME_PREFIX[artifact]}{sample}.{suffix}" for artifact in artifacts}
        for kind, sample in HEAD_KINDS.items()
    }


PLATFORMS: dict[str, Platform] = {
    "android": Platform(
        name="android",
        assets_dir="assets",
        code_dir="java/dev/edgeship/kit",
        samples=_native("android", "kt", ("tflite", "ort")),
        common=("android/KitMetadata.kt",),
        text=("android/WordPieceTokenizer.java",),
        image=("android/ImagePreprocessor.kt",),
        head_files={
            "entities": ("android/EntityDecoder.java",),
            "answer": ("android/QuestionEncoder.java", "android/SpanDecoder.java"),
        },
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
        samples=_native("ios", "swift", ("ort", "tflite")),
        common=("ios/KitMetadata.swift",),
        text=("ios/WordPieceTokenizer.swift",),
        image=("ios/ImagePreprocessor.swift",),
        head_files={
            "entities": ("ios/EntityDecoder.swift",),
            "answer": ("ios/QuestionEncoder.swift", "ios/SpanDecoder.swift"),
        },
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
        samples={kind: dict.fromkeys(("onnx", "tflite"), "web/edgeship-web.js") for kind in HEAD_KINDS},
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
        samples={
            kind: dict.fromkeys(("ort", "onnx"), f"react-native/Edgeship{sample}.js")
            for kind, sample in HEAD_KINDS.items()
        },
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
