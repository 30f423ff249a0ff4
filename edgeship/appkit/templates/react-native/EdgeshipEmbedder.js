// The React Native kit of a sentence encoder: the model in assets/ with its preprocessing, run by
// onnxruntime-react-native (whose API is onnxruntime-common's, as in onnxruntime-node and -web).
// Its output is already mean-pooled and scaled to length 1: cosine similarity = dot product.
import { InferenceSession, Tensor } from "onnxruntime-react-native";
import { Embedder, TextFeeds, cosine } from "./kit-core.js";

export { cosine };

/**
 * An Embedder (embedText -> {embedding, ms}, search(query, texts) -> texts ranked by cosine) for the kit's model.
 * modelPath: a file path or file:// URI of assets/model.ort on the device (e.g. from expo-asset's
 * Asset.fromModule(require("./assets/model.ort")).downloadAsync(), then .localUri).
 * metadata, tokenizerJson, tokenizerConfig: the parsed JSON files from assets/ (require() them).
 */
export async function createEmbedder({ modelPath, metadata, tokenizerJson, tokenizerConfig, sessionOptions }) {
  const session = await InferenceSession.create(modelPath, sessionOptions ?? {});
  const output = metadata.postprocessing.output;
  const run = async (feeds) => {
    const tensors = Object.fromEntries(feeds.map((f) => [f.name, new Tensor(f.dtype, f.data, f.shape)]));
    const results = await session.run(tensors);
    return results[output].data;
  };
  return new Embedder(run, metadata, new TextFeeds(tokenizerJson, tokenizerConfig, metadata.preprocessing));
}
