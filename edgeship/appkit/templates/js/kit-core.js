// Pre- and post-processing shared by the web and React Native kits; every setting comes from
// metadata.json. Tokenization is Hugging Face's own tokenizers.js reading the bundle's tokenizer.json.
import { Tokenizer } from "@huggingface/tokenizers";

const TYPED = { int64: BigInt64Array, int32: Int32Array, float32: Float32Array };

/** The bundle's tokenizer with the kit's truncation and padding: [CLS] pieces [SEP], padded to max_length. */
export class TextFeeds {
  constructor(tokenizerJson, tokenizerConfig, preprocessing) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.settings = preprocessing;
  }

  /** input_ids, attention_mask and token_type_ids as plain number arrays of length max_length. */
  encode(text) {
    const { max_length: length, cls_id: cls, sep_id: sep, pad_id: pad } = this.settings;
    const pieces = this.tokenizer.encode(text, { add_special_tokens: false }).ids.slice(0, length - 2);
    const ids = [cls, ...pieces, sep];
    const mask = ids.map(() => 1);
    while (ids.length < length) {
      ids.push(pad);
      mask.push(0);
    }
    return { input_ids: ids, attention_mask: mask, token_type_ids: ids.map(() => 0) };
  }
}

/**
 * Pixels already resized and centre-cropped to image_size (RGBA bytes, as a canvas gives them) to the
 * model's NCHW float32 input: scaled, mean subtracted, divided by std.
 */
export function pixelsToInput(rgba, preprocessing) {
  const [height, width] = preprocessing.image_size;
  const plane = height * width;
  const out = new Float32Array(3 * plane);
  const scale = Math.fround(preprocessing.scale);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const value = Math.fround(rgba[4 * i + c] * scale);
      out[c * plane + i] = (value - Math.fround(preprocessing.mean[c])) / Math.fround(preprocessing.std[c]);
    }
  }
  return out;
}

/** Where to draw an image so that its shorter side is resize_shorter_to and the centre crop fills the canvas. */
export function resizeAndCrop(imageWidth, imageHeight, preprocessing) {
  const [height, width] = preprocessing.image_size;
  const scale = preprocessing.resize_shorter_to / Math.min(imageWidth, imageHeight);
  const drawWidth = Math.max(width, Math.round(imageWidth * scale));
  const drawHeight = Math.max(height, Math.round(imageHeight * scale));
  return {
    width: drawWidth,
    height: drawHeight,
    left: Math.floor((drawWidth - width) / 2),
    top: Math.floor((drawHeight - height) / 2),
  };
}

/** One typed array per model input, in the dtype and shape metadata.json gives. */
export function feedsFor(metadata, values) {
  return metadata.inputs.map((spec) => {
    const source = values[spec.name];
    if (source === undefined) throw new Error(`no value for model input '${spec.name}'`);
    const Typed = TYPED[spec.dtype];
    if (!Typed) throw new Error(`input '${spec.name}' has dtype ${spec.dtype}, which the kit does not feed`);
    const data = spec.dtype === "int64" ? Typed.from(source, (v) => BigInt(v)) : Typed.from(source);
    return { name: spec.name, dtype: spec.dtype, shape: spec.shape, data };
  });
}

/** Softmax over the logits, the top label and every label's probability, best first. */
export function answer(logits, labels) {
  const values = Array.from(logits, Number);
  const top = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - top));
  const total = exps.reduce((a, b) => a + b, 0);
  const scores = labels.map((label, i) => ({ label, probability: exps[i] / total, logit: values[i] }));
  scores.sort((a, b) => b.probability - a.probability);
  return { label: scores[0].label, scores, logits: values };
}

/** The classifier every kit exposes: classifyText / classifyPixels -> {label, scores, logits, ms}. */
export class Classifier {
  constructor(run, metadata, textEncoder) {
    this.run = run;
    this.metadata = metadata;
    this.textEncoder = textEncoder;
  }

  async classifyText(text) {
    if (!this.textEncoder) throw new Error("this kit's model takes images, not text");
    return this.classifyFeeds(this.textEncoder.encode(text));
  }

  async classifyPixels(rgba) {
    return this.classifyFeeds({ [this.metadata.inputs[0].name]: pixelsToInput(rgba, this.metadata.preprocessing) });
  }

  async classifyFeeds(values) {
    const feeds = feedsFor(this.metadata, values);
    const start = now();
    const logits = await this.run(feeds);
    const ms = now() - start;
    return { ...answer(logits, this.metadata.labels), ms };
  }
}

/** Cosine similarity of two vectors (the kit's embeddings have length 1, so this is their dot product). */
export function cosine(a, b) {
  if (a.length !== b.length) throw new Error(`cosine of vectors of ${a.length} and ${b.length} floats`);
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return dot / Math.max(Math.sqrt(aa * bb), 1e-12);
}

/** The embedder every feature-extraction kit exposes: embedText -> {embedding, ms}; search ranks texts. */
export class Embedder {
  constructor(run, metadata, textEncoder) {
    this.run = run;
    this.metadata = metadata;
    this.textEncoder = textEncoder;
  }

  /** The text's embedding: a unit-length Float32Array of postprocessing.dimension floats. */
  async embedText(text) {
    if (!this.textEncoder) throw new Error("this kit's model takes images, not text");
    const feeds = feedsFor(this.metadata, this.textEncoder.encode(text));
    const start = now();
    const output = await this.run(feeds);
    const ms = now() - start;
    const { dimension } = this.metadata.postprocessing;
    if (output.length !== dimension) throw new Error(`the model gave ${output.length} floats, not ${dimension}`);
    return { embedding: Float32Array.from(output), ms };
  }

  /** `texts` ranked by cosine similarity to `query`, most similar first: {query, results: [{text, score}], ms}. */
  async search(query, texts) {
    if (!texts.length) throw new Error("search needs at least one text to rank against the query");
    const asked = await this.embedText(query);
    let ms = asked.ms;
    const results = [];
    for (const text of texts) {
      const { embedding, ms: took } = await this.embedText(text);
      ms += took;
      results.push({ text, score: cosine(asked.embedding, embedding) });
    }
    results.sort((a, b) => b.score - a.score);
    return { query: asked.embedding, results, ms };
  }

  classifyText() {
    throw new Error("this kit's model returns sentence embeddings, not labels: use embedText(text) or search(query, texts)");
  }
}

/** The kit's model object for metadata.postprocessing.kind: a Classifier or an Embedder. */
export function kitModel(run, metadata, textEncoder) {
  const Kind = metadata.postprocessing.kind === "embedding" ? Embedder : Classifier;
  return new Kind(run, metadata, textEncoder);
}

function now() {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}
