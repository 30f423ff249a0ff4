package dev.edgeship.kit

import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import android.content.Context
import java.nio.IntBuffer
import java.nio.LongBuffer

/**
 * Runs the kit's token classifier (model.ort) with ONNX Runtime for Android (onnxruntime-android, or a reduced
 * build made with required_operators_and_types.config) and returns the named entities of a text. Copy the
 * kit's assets/ into app/src/main/assets/edgeship/. Each word takes the tag of its first piece; IOB2 runs
 * become [EntityDecoder.Entity]s whose start/end index the original text (text.substring(start, end)).
 */
class OrtTagger(context: Context, dir: String = "edgeship", threads: Int = 4) : AutoCloseable {
    private val metadata = KitMetadata.load(context.assets, dir)

    init {
        require(metadata.isTagger) { "metadata.json does not describe a token classifier: use OrtClassifier or OrtEmbedder" }
    }

    private val tokenizer = metadata.tokenizer(context.assets)
    private val environment = OrtEnvironment.getEnvironment()
    private val session: OrtSession = environment.createSession(
        context.assets.open("$dir/${metadata.modelFile}").use { it.readBytes() },
        OrtSession.SessionOptions().apply { setIntraOpNumThreads(threads) },
    )

    /** The named entities in [text] (type, text, start, end, score), in text order. */
    fun tag(text: String): List<EntityDecoder.Entity> = EntityDecoder.entities(text, tagWords(text))

    /** Every word of [text] (up to max_length pieces) with its tag and that tag's probability. */
    fun tagWords(text: String): List<EntityDecoder.TaggedWord> {
        val words = tokenizer.words(text)
        val encoded = tokenizer.encodeWords(words)
        val arrays = metadata.textFeeds(encoded.encoding)
        val feeds = metadata.inputs.associate { spec ->
            val values = arrays.getValue(spec.name)
            val shape = spec.shape.map { it.toLong() }.toLongArray()
            spec.name to if (spec.dtype == "int64") {
                OnnxTensor.createTensor(environment, LongBuffer.wrap(LongArray(values.size) { values[it].toLong() }), shape)
            } else {
                OnnxTensor.createTensor(environment, IntBuffer.wrap(values), shape)
            }
        }
        try {
            session.run(feeds, setOf(metadata.outputName)).use { result ->
                @Suppress("UNCHECKED_CAST")
                val logits = (result.get(0).value as Array<Array<FloatArray>>)[0]  // [max_length][tags]
                return EntityDecoder.tagWords(words, encoded.firstTokens, logits, metadata.labels)
            }
        } finally {
            feeds.values.forEach { it.close() }
        }
    }

    override fun close() = session.close()
}
