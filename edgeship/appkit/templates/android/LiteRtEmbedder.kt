package dev.edgeship.kit

import android.content.Context
import org.tensorflow.lite.Interpreter
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.channels.FileChannel

/**
 * Runs the kit's sentence encoder (model.tflite) with the LiteRT Interpreter through its serving signature.
 * Copy the kit's assets/ into app/src/main/assets/edgeship/; the model must be stored uncompressed
 * (android { androidResources { noCompress += "tflite" } }) so it can be memory-mapped. The model pools and
 * normalises: its output is a unit vector, so the cosine similarity of two texts is the dot product of
 * their embeddings ([cosine]).
 */
class LiteRtEmbedder(context: Context, dir: String = "edgeship", threads: Int = 4) : AutoCloseable {
    private val metadata = KitMetadata.load(context.assets, dir)

    init {
        require(metadata.isEmbedding) { "metadata.json describes a classifier: use LiteRtClassifier" }
    }

    private val tokenizer = metadata.tokenizer(context.assets)
    private val interpreter = Interpreter(mapModel(context, "$dir/${metadata.modelFile}"), Interpreter.Options().setNumThreads(threads))

    /** The text's embedding: [KitMetadata.embeddingSize] floats of length 1. */
    fun embed(text: String): FloatArray {
        val arrays = metadata.textFeeds(tokenizer.encode(text))
        val feeds = metadata.inputs.associate { spec ->
            val values = arrays.getValue(spec.name)
            spec.name to if (spec.dtype == "int64") arrayOf(LongArray(values.size) { values[it].toLong() }) else arrayOf(values)
        }
        val embedding = arrayOf(FloatArray(metadata.embeddingSize))
        interpreter.runSignature(feeds, mapOf(metadata.outputName to embedding))
        return embedding[0]
    }

    /** [texts] ranked by cosine similarity to [query], most similar first. */
    fun search(query: String, texts: List<String>): List<Match> {
        val asked = embed(query)
        return texts.map { Match(it, cosine(asked, embed(it))) }.sortedByDescending { it.score }
    }

    override fun close() = interpreter.close()

    private fun mapModel(context: Context, path: String): ByteBuffer =
        context.assets.openFd(path).use { fd ->
            FileInputStream(fd.fileDescriptor).channel.use { channel ->
                channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
            }
        }
}
