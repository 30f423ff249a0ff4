// Runs the React Native kit's module under Node: onnxruntime-react-native resolved to onnxruntime-node
// (the same onnxruntime-common API). Usage: node rn_classify.mjs KIT TEXTS.json [QUERY] -> JSON lines:
// a classifier kit: {label, logits} per text; an embedding kit: {embedding} per text, then with QUERY
// {search: [{text, score}]} (the texts ranked), then {errors: [...]} (what misuse says).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [kit, textsFile, query] = process.argv.slice(2);
const json = (name) => JSON.parse(readFileSync(join(kit, "assets", name), "utf8"));
const main = JSON.parse(readFileSync(join(kit, "package.json"), "utf8")).main;
const module = await import(pathToFileURL(join(kit, main)).href);
const metadata = json("metadata.json");
const embeds = metadata.postprocessing.kind === "embedding";
const create = embeds ? module.createEmbedder : module.createClassifier;
const model = await create({
  modelPath: join(kit, "assets", metadata.model.file),
  metadata,
  tokenizerJson: json("tokenizer.json"),
  tokenizerConfig: json("tokenizer_config.json"),
});
const texts = JSON.parse(readFileSync(textsFile, "utf8"));
for (const text of texts) {
  if (embeds) {
    const { embedding } = await model.embedText(text);
    console.log(JSON.stringify({ embedding: Array.from(embedding) }));
  } else {
    const { label, logits } = await model.classifyText(text);
    console.log(JSON.stringify({ label, logits }));
  }
}
if (embeds && query !== undefined) {
  console.log(JSON.stringify({ search: (await model.search(query, texts)).results }));
  const errors = [];
  for (const misuse of [() => model.classifyText(query), () => model.search(query, [])]) {
    try {
      await misuse();
      errors.push(null);
    } catch (error) {
      errors.push(error.message);
    }
  }
  console.log(JSON.stringify({ errors }));
}
