package dev.edgeship.kit

import android.content.Context
import org.tensorflow.lite.Interpreter
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.channels.FileChannel

/**
 * Runs the kit's token classifier (model.tflite) with the LiteRT Interpreter through its serving signature and
 * returns the named entities of a text. Copy the kit's assets/ into app/src/main/assets/edgeship/; the model
 * must be stored uncompressed (android { androidResources { noCompress += "tflite" } }) so it can be
 * memory-mapped. Each word takes the tag of its first piece; IOB2 runs become [EntityDecoder.Entity]s whose
 * start/end index the original text (text.substring(start, end)).
 */
class LiteRtTagger(context: Context, dir: String = "edgeship", threads: Int = 4) : AutoCloseable {
    private val metadata = KitMetadata.load(context.assets, dir)

    init {
        require(metadata.isTagger) { "metadata.json does not describe a token classifier: use LiteRtClassifier or LiteRtEmbedder" }
    }

    private val tokenizer = metadata.tokenizer(context.assets)
    private val interpreter = Interpreter(mapModel(context, "$dir/${metadata.modelFile}"), Interpreter.Options().setNumThreads(threads))

    /** The named entities in [text] (type, text, start, end, score), in text order. */
    fun tag(text: String): List<EntityDecoder.Entity> = EntityDecoder.entities(text, tagWords(text))

    /** Every word of [text] (up to max_length pieces) with its tag and that tag's probability. */
    fun tagWords(text: String): List<EntityDecoder.TaggedWord> {
        val words = tokenizer.words(text)
        val encoded = tokenizer.encodeWords(words)
        val arrays = metadata.textFeeds(encoded.encoding)
        val feeds = metadata.inputs.associate { spec ->
            val values = arrays.getValue(spec.name)
            spec.name to if (spec.dtype == "int64") arrayOf(LongArray(values.size) { values[it].toLong() }) else arrayOf(values)
        }
        val (_, tokens, tags) = metadata.outputShape  // [1, max_length, tags]
        val logits = arrayOf(Array(tokens) { FloatArray(tags) })
        interpreter.runSignature(feeds, mapOf(metadata.outputName to logits))
        return EntityDecoder.tagWords(words, encoded.firstTokens, logits[0], metadata.labels)
    }

    override fun close() = interpreter.close()

    private fun mapModel(context: Context, path: String): ByteBuffer =
        context.assets.openFd(path).use { fd ->
            FileInputStream(fd.fileDescriptor).channel.use { channel ->
                channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
            }
        }
}
