// The web kit: loads model/ (metadata.json, the model, tokenizer.json) and classifies (embeds, tags the named
// entities of, or answers questions about) text or images in the browser with onnxruntime-web (ONNX) or LiteRT.js
// (TFLite), both on WebAssembly.
import { TextFeeds, kitModel, resizeAndCrop } from "./kit-core.js";

/** Settings the page can change: where the runtimes' .wasm files are served from. */
export const RUNTIME_FILES = {
  onnxruntime: new URL("../node_modules/onnxruntime-web/dist/", import.meta.url).href,
  litert: new URL("../node_modules/@litertjs/core/wasm/", import.meta.url).href,
};

/**
 * Load the kit in `modelDir` (a URL); resolves to a Classifier (classifyText, classifyPixels), for a
 * feature-extraction kit an Embedder (embedText, search), for a token-classification kit a Tagger
 * (tagText -> entities with offsets), or for a question-answering kit an Answerer (answer(question, context) ->
 * the answer span with offsets), with a `runtime` description.
 */
export async function loadKit(modelDir = new URL("../model/", import.meta.url).href) {
  const metadata = await fetchJson(new URL("metadata.json", modelDir));
  let textFeeds = null;
  if (metadata.preprocessing.kind === "text") {
    const [json, config] = await Promise.all([
      fetchJson(new URL("tokenizer.json", modelDir)),
      fetchJson(new URL("tokenizer_config.json", modelDir)),
    ]);
    textFeeds = new TextFeeds(json, config, metadata.preprocessing);
  }
  const model = await openModel(new URL(metadata.model.file, modelDir).href, metadata.model.format);
  const output = metadata.postprocessing.output;
  const kit = kitModel(async (feeds) => (await model.run(feeds))[output], metadata, textFeeds);
  kit.runtime = model.runtime;
  return kit;
}

/**
 * The model at `modelUrl` ("onnx"/"ort": onnxruntime-web, "tflite": LiteRT.js): {run, runtime}, where
 * run([{name, dtype, shape, data}]) resolves to every output's data by name.
 */
export async function openModel(modelUrl, format) {
  return format === "tflite" ? liteRtRunner(modelUrl) : ortRunner(modelUrl);
}

/** An image (ImageBitmap, <img> or canvas) resized, centre-cropped and read back as RGBA bytes. */
export function imagePixels(image, preprocessing) {
  const [height, width] = preprocessing.image_size;
  const place = resizeAndCrop(image.width, image.height, preprocessing);
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.imageSmoothingQuality = "high";
  context.drawImage(image, -place.left, -place.top, place.width, place.height);
  return context.getImageData(0, 0, width, height).data;
}

/** Decode an image file without colour management, so that its pixels are the file's. */
export function decodeImage(blob) {
  return createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
}

async function ortRunner(modelUrl) {
  const ort = await import("onnxruntime-web");
  const threads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.wasm.wasmPaths = RUNTIME_FILES.onnxruntime;
  ort.env.wasm.numThreads = threads;
  const session = await ort.InferenceSession.create(modelUrl, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const run = async (feeds) => {
    const tensors = Object.fromEntries(feeds.map((f) => [f.name, new ort.Tensor(f.dtype, f.data, f.shape)]));
    const results = await session.run(tensors);
    return Object.fromEntries(Object.entries(results).map(([name, tensor]) => [name, tensor.data]));
  };
  const runtime = `onnxruntime-web ${ort.env.versions.web} (WASM, ${threads} thread${threads > 1 ? "s" : ""})`;
  return { run, runtime };
}

async function liteRtRunner(modelUrl) {
  const litert = await import("@litertjs/core");
  const threads = Boolean(globalThis.crossOriginIsolated);
  await litert.loadLiteRt(RUNTIME_FILES.litert, { threads });
  const model = await litert.loadAndCompile(modelUrl, { accelerator: "wasm" });
  const run = async (feeds) => {
    const inputs = Object.fromEntries(feeds.map((f) => [f.name, new litert.Tensor(f.data, f.shape)]));
    const results = await model.run(inputs);
    const data = {};
    for (const [name, tensor] of Object.entries(results)) data[name] = await tensor.data();
    for (const tensor of [...Object.values(inputs), ...Object.values(results)]) tensor.delete();
    return data;
  };
  return { run, runtime: `LiteRT.js (WASM${threads ? ", threads" : ""})` };
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}
