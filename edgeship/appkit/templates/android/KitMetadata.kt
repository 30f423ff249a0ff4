package dev.edgeship.kit

import android.content.res.AssetManager
import org.json.JSONObject
import kotlin.math.exp
import kotlin.math.sqrt

/** One model input as metadata.json describes it: the name to feed, its dtype and the shape fed. */
data class InputSpec(val name: String, val index: Int, val dtype: String, val shape: IntArray)

/** A label with its softmax probability. */
data class Prediction(val label: String, val probability: Float)

/** A text with its cosine similarity to a query (embedding kits). */
data class Match(val text: String, val score: Float)

/** Cosine similarity of two embeddings; the kit's embeddings have length 1, so it equals their dot product. */
fun cosine(a: FloatArray, b: FloatArray): Float {
    require(a.size == b.size) { "cosine of vectors of ${a.size} and ${b.size} floats" }
    var dot = 0.0
    var aa = 0.0
    var bb = 0.0
    for (i in a.indices) {
        dot += a[i] * b[i]
        aa += a[i] * a[i]
        bb += b[i] * b[i]
    }
    return (dot / maxOf(sqrt(aa * bb), 1e-12)).toFloat()
}

/** metadata.json, read from the app's assets (folder [dir]). */
class KitMetadata(val json: JSONObject, val dir: String) {
    val modelFile: String = json.getJSONObject("model").getString("file")
    val preprocessing: JSONObject = json.getJSONObject("preprocessing")
    val isText: Boolean = preprocessing.getString("kind") == "text"
    val outputName: String = json.getJSONObject("postprocessing").getString("output")
    /** Whether the model returns a sentence embedding (feature-extraction kits) rather than logits. */
    val isEmbedding: Boolean = json.getJSONObject("postprocessing").optString("kind") == "embedding"
    /** Embedding kits: the length of the output vector (postprocessing.dimension); 0 for classifiers. */
    val embeddingSize: Int = json.getJSONObject("postprocessing").optInt("dimension", 0)
    /** Whether the model tags each token (token-classification kits: named entities via [EntityDecoder]). */
    val isTagger: Boolean = json.getJSONObject("postprocessing").optString("kind") == "entities"
    /** Whether the model finds answers in a context (question-answering kits: [QuestionEncoder], [SpanDecoder]). */
    val isAnswerer: Boolean = json.getJSONObject("postprocessing").optString("kind") == "answer"
    /** Question-answering kits: the longest answer in pieces (postprocessing.max_answer_length). */
    val maxAnswerLength: Int = json.getJSONObject("postprocessing").optInt("max_answer_length", 0)
    /** The first output's shape as fed: [1, max_length, tags] for a tagger, [1, max_length, 2] for an answerer. */
    val outputShape: List<Int> = json.getJSONArray("outputs").getJSONObject(0).getJSONArray("shape").let { array ->
        List(array.length()) { array.getInt(it) }
    }
    val labels: List<String> = json.getJSONArray("labels").let { array -> List(array.length()) { array.getString(it) } }
    val inputs: List<InputSpec> = json.getJSONArray("inputs").let { array ->
        List(array.length()) { i ->
            val spec = array.getJSONObject(i)
            val shape = spec.getJSONArray("shape")
            InputSpec(spec.getString("name"), spec.getInt("index"), spec.getString("dtype"), IntArray(shape.length()) { shape.getInt(it) })
        }
    }

    /** The tokenizer settings of a text model, with its vocabulary read from vocab.txt. */
    fun tokenizer(assets: AssetManager): WordPieceTokenizer {
        val config = WordPieceTokenizer.Config().apply {
            cleanText = preprocessing.getBoolean("clean_text")
            handleChineseChars = preprocessing.getBoolean("handle_chinese_chars")
            stripAccents = preprocessing.getBoolean("strip_accents")
            lowercase = preprocessing.getBoolean("lowercase")
            continuingSubwordPrefix = preprocessing.getString("continuing_subword_prefix")
            maxInputCharsPerWord = preprocessing.getInt("max_input_chars_per_word")
            maxLength = preprocessing.getInt("max_length")
            unkToken = preprocessing.getString("unk_token")
            clsToken = preprocessing.getString("cls_token")
            sepToken = preprocessing.getString("sep_token")
            padToken = preprocessing.getString("pad_token")
        }
        val vocab = assets.open("$dir/${preprocessing.getString("vocab_file")}").use { WordPieceTokenizer.readVocab(it) }
        return WordPieceTokenizer(vocab, config)
    }

    /** A question-answering kit's pre-processing: question and context as windows (doc_stride, max_question_tokens). */
    fun questionEncoder(assets: AssetManager): QuestionEncoder = QuestionEncoder(
        tokenizer(assets),
        preprocessing.getInt("max_length"),
        preprocessing.getInt("doc_stride"),
        preprocessing.getInt("max_question_tokens"),
    )

    /** The int arrays a text becomes, by input name (input_ids, attention_mask, token_type_ids). */
    fun textFeeds(encoding: WordPieceTokenizer.Encoding): Map<String, IntArray> = mapOf(
        "input_ids" to encoding.inputIds,
        "attention_mask" to encoding.attentionMask,
        "token_type_ids" to encoding.tokenTypeIds,
    )

    /** Softmax over the logits, labels sorted by probability. */
    fun predictions(logits: FloatArray): List<Prediction> {
        val max = logits.maxOrNull() ?: 0f
        val exps = logits.map { exp((it - max).toDouble()) }
        val total = exps.sum()
        return exps.mapIndexed { i, value -> Prediction(labels[i], (value / total).toFloat()) }
            .sortedByDescending { it.probability }
    }

    companion object {
        /** Read `dir`/metadata.json from the app's assets. */
        fun load(assets: AssetManager, dir: String = "edgeship"): KitMetadata =
            KitMetadata(JSONObject(assets.open("$dir/metadata.json").bufferedReader().use { it.readText() }), dir)
    }
}
