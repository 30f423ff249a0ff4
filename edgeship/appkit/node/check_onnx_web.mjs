// Load an ONNX file in onnxruntime-web's WASM backend (the web kit's runtime) and run it once on zeros.
// Usage: node check_onnx_web.mjs NODE_MODULES MODEL.onnx. Prints "ok" or exits 1 with the runtime's error.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, int64: BigInt64Array, uint64: BigUint64Array,
  int32: Int32Array, uint32: Uint32Array, int16: Int16Array, uint16: Uint16Array, int8: Int8Array,
  uint8: Uint8Array, bool: Uint8Array,
};
const [modules, modelPath] = process.argv.slice(2);
const ort = createRequire(`${resolve(modules)}/`)("onnxruntime-web");
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";
try {
  const session = await ort.InferenceSession.create(readFileSync(modelPath));
  const feeds = {};
  for (const meta of session.inputMetadata) {
    const shape = meta.shape.map((d) => (typeof d === "number" ? d : 1));
    const size = shape.reduce((a, b) => a * b, 1);
    const Typed = ARRAYS[meta.type] ?? Float32Array;
    const data = new Typed(size);
    feeds[meta.name] = new ort.Tensor(meta.type, data, shape);
  }
  await session.run(feeds);
  console.log(`ok onnxruntime-web ${ort.env.versions.web}`);
} catch (error) {
  console.error(String(error?.message ?? error).split("\n").find((line) => line.trim()) ?? "unknown error");
  process.exit(1);
}
