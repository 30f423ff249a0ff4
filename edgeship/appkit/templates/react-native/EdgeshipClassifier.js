// The React Native kit: the model in assets/ with its pre- and post-processing, run by
// onnxruntime-react-native (whose API is onnxruntime-common's, as in onnxruntime-node and -web).
import { InferenceSession, Tensor } from "onnxruntime-react-native";
import { Classifier, TextFeeds } from "./kit-core.js";

/**
 * A Classifier (classifyText, classifyPixels) for the kit's model.
 * modelPath: a file path or file:// URI of assets/model.ort on the device (e.g. from expo-asset's
 * Asset.fromModule(require("./assets/model.ort")).downloadAsync(), then .localUri).
 * metadata, tokenizerJson, tokenizerConfig: the parsed JSON files from assets/ (require() them).
 */
export async function createClassifier({ modelPath, metadata, tokenizerJson, tokenizerConfig, sessionOptions }) {
  const session = await InferenceSession.create(modelPath, sessionOptions ?? {});
  const output = metadata.postprocessing.output;
  const run = async (feeds) => {
    const tensors = Object.fromEntries(feeds.map((f) => [f.name, new Tensor(f.dtype, f.data, f.shape)]));
    const results = await session.run(tensors);
    return results[output].data;
  };
  const textFeeds =
    metadata.preprocessing.kind === "text" ? new TextFeeds(tokenizerJson, tokenizerConfig, metadata.preprocessing) : null;
  return new Classifier(run, metadata, textFeeds);
}
