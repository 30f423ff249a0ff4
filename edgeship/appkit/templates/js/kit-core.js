// Pre- and post-processing shared by the web and React Native kits; every setting comes from
// metadata.json. Tokenization is Hugging Face's own tokenizers.js reading the bundle's tokenizer.json.
import { Tokenizer } from "@huggingface/tokenizers";

const TYPED = { int64: BigInt64Array, int32: Int32Array, float32: Float32Array };
// What tokenizers.js's BertPreTokenizer splits at: whitespace (dropped) and punctuation (a word of its own).
const PUNCTUATION = new RegExp("[\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E]", "u");
const SPACE = /\s/u;

/** The bundle's tokenizer with the kit's truncation and padding: [CLS] pieces [SEP], padded to max_length. */
export class TextFeeds {
  constructor(tokenizerJson, tokenizerConfig, preprocessing) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.settings = preprocessing;
  }

  /** input_ids, attention_mask and token_type_ids as plain number arrays of length max_length. */
  encode(text) {
    return this.feeds(this.tokenizer.encode(text, { add_special_tokens: false }).ids);
  }

  /**
   * The text's words as the tokenizer splits them (at whitespace and punctuation), each {start, end, ids}:
   * start/end are UTF-16 offsets into `text` itself (text.slice(start, end)), not into the normalized text.
   */
  words(text) {
    return this.splitWords(text).map(({ start, end }) => ({ start, end, ids: this.encodeWord(text, start, end).ids }));
  }

  /**
   * The text's word pieces, each {id, start, end}: start/end are the UTF-16 span in `text` itself of the piece's
   * first to last character (the offsets Hugging Face's tokenizer gives).
   */
  pieces(text) {
    const { unk_token: unknown, continuing_subword_prefix: prefix } = this.settings;
    const pieces = [];
    for (const { start, end, origins } of this.splitWords(text)) {
      const { ids, tokens } = this.encodeWord(text, start, end);
      let at = 0; // UTF-16 units of the normalized word
      ids.forEach((id, i) => {
        if (tokens[i] === unknown) {
          pieces.push({ id, start, end }); // a word with no split is one [UNK]
          return;
        }
        const last = at + (i > 0 ? tokens[i].length - prefix.length : tokens[i].length);
        pieces.push({ id, start: origins[at][0], end: origins[last - 1][1] });
        at = last;
      });
    }
    return pieces;
  }

  /**
   * The windows of a question about a context, as Hugging Face's tokenizer makes them (truncation "only_second"
   * with stride doc_stride): each is [CLS] question [SEP] context pieces [SEP], padded to max_length (token type
   * ids 0 up to the first [SEP], 1 after it), consecutive windows sharing doc_stride context pieces; a question of
   * more than max_question_tokens pieces is cut at the end of the last one that fits and tokenized again.
   * Each window: {values: {input_ids, attention_mask, token_type_ids}, offsets: [[start, end] per position]}, the
   * UTF-16 span in the context of the piece there ([-1, -1] for question, special and padding tokens).
   */
  encodeQuestion(question, context) {
    const { max_length: length, doc_stride: stride, max_question_tokens: most } = this.settings;
    let asked = this.pieces(question);
    if (asked.length > most) asked = this.pieces(question.slice(0, asked[most - 1].end));
    const pieces = this.pieces(context);
    const room = length - 3 - asked.length;
    if (pieces.length > room && room <= stride) {
      throw new Error(`the question leaves ${room} context tokens per window, not more than doc_stride (${stride})`);
    }
    const windows = [];
    for (let start = 0; ; start += room - stride) {
      const stop = Math.min(start + room, pieces.length);
      windows.push(this.questionWindow(asked, pieces.slice(start, stop)));
      if (stop === pieces.length) return windows;
    }
  }

  questionWindow(question, context) {
    const { max_length: length, cls_id: cls, sep_id: sep, pad_id: pad } = this.settings;
    const ids = [cls, ...question.map((p) => p.id), sep, ...context.map((p) => p.id), sep];
    const types = ids.map((_, i) => (i < question.length + 2 ? 0 : 1));
    const offsets = ids.map(() => [-1, -1]);
    context.forEach((p, i) => (offsets[question.length + 2 + i] = [p.start, p.end]));
    const mask = ids.map(() => 1);
    while (ids.length < length) {
      ids.push(pad);
      mask.push(0);
      types.push(0);
      offsets.push([-1, -1]);
    }
    return { values: { input_ids: ids, attention_mask: mask, token_type_ids: types }, offsets };
  }

  /**
   * The words (whitespace dropped, each punctuation mark its own), each {start, end, origins}: start/end the
   * UTF-16 span in `text`; origins[u] the [start, end] in `text` of the character that the u-th UTF-16 unit of the
   * normalized word came from (each character is normalized on its own).
   */
  splitWords(text) {
    const normalizer = this.tokenizer.normalizer;
    const spans = [];
    let current = null;
    for (let index = 0; index < text.length; ) {
      const char = String.fromCodePoint(text.codePointAt(index));
      const next = index + char.length;
      for (const normalized of normalizer ? normalizer.normalize(char) : char) {
        const units = Array.from({ length: normalized.length }, () => [index, next]);
        if (SPACE.test(normalized) || PUNCTUATION.test(normalized)) {
          current = null;
          if (!SPACE.test(normalized)) spans.push({ start: index, end: next, origins: units });
        } else if (current) {
          current.end = next;
          current.origins.push(...units);
        } else {
          current = { start: index, end: next, origins: units };
          spans.push(current);
        }
      }
      index = next;
    }
    return spans;
  }

  encodeWord(text, start, end) {
    return this.tokenizer.encode(text.slice(start, end), { add_special_tokens: false });
  }

  /** The inputs for the words' pieces (what encode(text) gives) and the position of each word's first piece
   * in input_ids (firstTokens); words cut off by max_length have none. */
  encodeWords(words) {
    const pieces = [];
    const firstTokens = [];
    for (const word of words) {
      if (pieces.length < this.settings.max_length - 2) firstTokens.push(1 + pieces.length); // after [CLS]
      pieces.push(...word.ids);
    }
    return { values: this.feeds(pieces), firstTokens };
  }

  /** input_ids, attention_mask and token_type_ids for word-piece ids: [CLS] ids [SEP], padded. */
  feeds(pieceIds) {
    const { max_length: length, cls_id: cls, sep_id: sep, pad_id: pad } = this.settings;
    const ids = [cls, ...pieceIds.slice(0, length - 2), sep];
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

/**
 * Each word tagged at its first piece: `logits` is the model's output for one text, flat [max_length * tags];
 * `firstTokens` from TextFeeds.encodeWords. Returns [{text, start, end, tag, score}] (score: the tag's softmax
 * probability).
 */
export function tagWords(text, words, firstTokens, logits, labels) {
  const count = labels.length;
  return firstTokens.map((token, i) => {
    const row = Array.from(logits.slice(token * count, (token + 1) * count), Number);
    let best = 0;
    for (let t = 1; t < count; t++) if (row[t] > row[best]) best = t;
    const total = row.reduce((sum, value) => sum + Math.exp(value - row[best]), 0);
    const { start, end } = words[i];
    return { text: text.slice(start, end), start, end, tag: labels[best], score: 1 / total };
  });
}

/**
 * Entities of tagged words, IOB2 as CoNLL and seqeval read it: B-X starts an entity of type X, I-X continues
 * one of type X, and I-X after O or after another type starts a new one (as does a tag without a prefix).
 * Returns [{type, text, start, end, score}]: text = text.slice(start, end), score the mean of its words' scores.
 */
export function entities(text, words) {
  const runs = [];
  let openType = null;
  for (const word of words) {
    if (word.tag === "O") {
      openType = null;
      continue;
    }
    const prefixed = word.tag.startsWith("B-") || word.tag.startsWith("I-");
    const type = prefixed ? word.tag.slice(2) : word.tag;
    if (word.tag.startsWith("I-") && type === openType) {
      const run = runs[runs.length - 1];
      run.end = word.end;
      run.scores.push(word.score);
    } else {
      runs.push({ type, start: word.start, end: word.end, scores: [word.score] });
    }
    openType = type;
  }
  return runs.map(({ type, start, end, scores }) => ({
    type,
    text: text.slice(start, end),
    start,
    end,
    score: scores.reduce((a, b) => a + b, 0) / scores.length,
  }));
}

/** The tagger every token-classification kit exposes: tagText -> {entities, words, ms}. */
export class Tagger {
  constructor(run, metadata, textEncoder) {
    this.run = run;
    this.metadata = metadata;
    this.textEncoder = textEncoder;
  }

  /** The named entities in `text` ({type, text, start, end, score}), every word with its tag, and the run time. */
  async tagText(text) {
    const words = this.textEncoder.words(text);
    const { values, firstTokens } = this.textEncoder.encodeWords(words);
    const feeds = feedsFor(this.metadata, values);
    const start = now();
    const logits = await this.run(feeds);
    const ms = now() - start;
    const tagged = tagWords(text, words, firstTokens, logits, this.metadata.labels);
    return { entities: entities(text, tagged), words: tagged, ms };
  }

  classifyText() {
    throw new Error("this kit's model tags each word, it gives no label per text: use tagText(text)");
  }
}

/**
 * The best answer span over all windows (encodeQuestion's): the span of context tokens (start <= end, at most
 * maxAnswerLength tokens) with the highest start + end logit; the first such span wins a tie. `logits[w]` is
 * window w's output, flat [max_length * 2] (start, end per token). Returns {text, start, end, score}: start/end
 * UTF-16 offsets into the context (text = context.slice(start, end)); score null (an empty answer) when no window
 * has a context token.
 */
export function bestSpan(context, windows, logits, maxAnswerLength) {
  let best = { start: 0, end: 0, score: null };
  windows.forEach(({ offsets }, w) => {
    const rows = logits[w];
    const tokens = Math.min(offsets.length, rows.length / 2);
    for (let first = 0; first < tokens; first++) {
      if (offsets[first][0] < 0) continue;
      for (let last = first; last < tokens && last - first < maxAnswerLength; last++) {
        if (offsets[last][0] < 0) continue;
        const score = Number(rows[2 * first]) + Number(rows[2 * last + 1]);
        if (best.score === null || score > best.score) best = { start: offsets[first][0], end: offsets[last][1], score };
      }
    }
  });
  return { text: context.slice(best.start, best.end), ...best };
}

/** The answerer every question-answering kit exposes: answer(question, context) -> {text, start, end, score, ...}. */
export class Answerer {
  constructor(run, metadata, textEncoder) {
    this.run = run;
    this.metadata = metadata;
    this.textEncoder = textEncoder;
  }

  /**
   * The answer to `question` in `context` ({text, start, end, score}: start/end UTF-16 offsets into the context,
   * score the start + end logit), the number of windows the context was read in, and the run time of them all.
   */
  async answer(question, context) {
    const windows = this.textEncoder.encodeQuestion(question, context);
    const logits = [];
    let ms = 0;
    for (const window of windows) {
      const feeds = feedsFor(this.metadata, window.values);
      const start = now();
      logits.push(await this.run(feeds));
      ms += now() - start;
    }
    const span = bestSpan(context, windows, logits, this.metadata.postprocessing.max_answer_length);
    return { ...span, windows: windows.length, ms };
  }

  classifyText() {
    throw new Error("this kit's model answers a question about a context, it gives no label per text: use answer(question, context)");
  }
}

/** metadata.postprocessing.kind -> the kit's model class; a classifier's metadata has no kind. */
const MODELS = { embedding: Embedder, entities: Tagger, answer: Answerer };

/** The kit's model object for metadata.postprocessing.kind: a Classifier, an Embedder, a Tagger or an Answerer. */
export function kitModel(run, metadata, textEncoder) {
  const Kind = MODELS[metadata.postprocessing.kind] ?? Classifier;
  return new Kind(run, metadata, textEncoder);
}

function now() {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}
