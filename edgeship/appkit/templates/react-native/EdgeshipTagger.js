// The React Native kit of a token classifier (named entities): the model in assets/ with its preprocessing,
// run by onnxruntime-react-native (whose API is onnxruntime-common's, as in onnxruntime-node and -web).
// Each word takes the tag of its first piece; IOB2 runs become entities with offsets into the text.
import { InferenceSession, Tensor } from "onnxruntime-react-native";
import { Tagger, TextFeeds, entities } from "./kit-core.js";

export { entities };

/**
 * A Tagger (tagText(text) -> {entities: [{type, text, start, end, score}], words, ms}) for the kit's model;
 * start/end are UTF-16 offsets into the text (text.slice(start, end) is the entity's text).
 * modelPath: a file path or file:// URI of assets/model.ort on the device (e.g. from expo-asset's
 * Asset.fromModule(require("./assets/model.ort")).downloadAsync(), then .localUri).
 * metadata, tokenizerJson, tokenizerConfig: the parsed JSON files from assets/ (require() them).
 */
export async function createTagger({ modelPath, metadata, tokenizerJson, tokenizerConfig, sessionOptions }) {
  const session = await InferenceSession.create(modelPath, sessionOptions ?? {});
  const output = metadata.postprocessing.output;
  const run = async (feeds) => {
    const tensors = Object.fromEntries(feeds.map((f) => [f.name, new Tensor(f.dtype, f.data, f.shape)]));
    const results = await session.run(tensors);
    return results[output].data;
  };
  return new Tagger(run, metadata, new TextFeeds(tokenizerJson, tokenizerConfig, metadata.preprocessing));
}
