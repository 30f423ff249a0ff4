// The React Native kit of an extractive question-answering model: the model in assets/ with its pre- and
// post-processing, run by onnxruntime-react-native (whose API is onnxruntime-common's, as in onnxruntime-node and
// -web). A long context is read in windows; the answer is the best span over all of them, cut from the context.
import { InferenceSession, Tensor } from "onnxruntime-react-native";
import { Answerer, TextFeeds, bestSpan } from "./kit-core.js";

export { bestSpan };

/**
 * An Answerer (answer(question, context) -> {text, start, end, score, windows, ms}) for the kit's model;
 * start/end are UTF-16 offsets into the context (context.slice(start, end) is the answer's text), score the start
 * + end logit.
 * modelPath: a file path or file:// URI of assets/model.ort on the device (e.g. from expo-asset's
 * Asset.fromModule(require("./assets/model.ort")).downloadAsync(), then .localUri).
 * metadata, tokenizerJson, tokenizerConfig: the parsed JSON files from assets/ (require() them).
 */
export async function createAnswerer({ modelPath, metadata, tokenizerJson, tokenizerConfig, sessionOptions }) {
  const session = await InferenceSession.create(modelPath, sessionOptions ?? {});
  const output = metadata.postprocessing.output;
  const run = async (feeds) => {
    const tensors = Object.fromEntries(feeds.map((f) => [f.name, new Tensor(f.dtype, f.data, f.shape)]));
    const results = await session.run(tensors);
    return results[output].data;
  };
  return new Answerer(run, metadata, new TextFeeds(tokenizerJson, tokenizerConfig, metadata.preprocessing));
}
