// Runs the React Native kit's module under Node: onnxruntime-react-native resolved to onnxruntime-node
// (the same onnxruntime-common API). Usage: node rn_classify.mjs KIT TEXTS.json -> JSON lines of answers.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [kit, textsFile] = process.argv.slice(2);
const json = (name) => JSON.parse(readFileSync(join(kit, "assets", name), "utf8"));
const { createClassifier } = await import(pathToFileURL(join(kit, "src", "EdgeshipClassifier.js")).href);
const metadata = json("metadata.json");
const classifier = await createClassifier({
  modelPath: join(kit, "assets", metadata.model.file),
  metadata,
  tokenizerJson: json("tokenizer.json"),
  tokenizerConfig: json("tokenizer_config.json"),
});
for (const text of JSON.parse(readFileSync(textsFile, "utf8"))) {
  const { label, logits } = await classifier.classifyText(text);
  console.log(JSON.stringify({ label, logits }));
}
