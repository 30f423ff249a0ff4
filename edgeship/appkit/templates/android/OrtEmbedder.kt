package dev.edgeship.kit

import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import android.content.Context
import java.nio.IntBuffer
import java.nio.LongBuffer

/**
 * Runs the kit's sentence encoder (model.ort) with ONNX Runtime for Android (onnxruntime-android, or a
 * reduced build made with required_operators_and_types.config). Copy the kit's assets/ into
 * app/src/main/assets/edgeship/. The model pools and normalises: its output is a unit vector, so the
 * cosine similarity of two texts is the dot product of their embeddings ([cosine]).
 */
class OrtEmbedder(context: Context, dir: String = "edgeship", threads: Int = 4) : AutoCloseable {
    private val metadata = KitMetadata.load(context.assets, dir)

    init {
        require(metadata.isEmbedding) { "metadata.json describes a classifier: use OrtClassifier" }
    }

    private val tokenizer = metadata.tokenizer(context.assets)
    private val environment = OrtEnvironment.getEnvironment()
    private val session: OrtSession = environment.createSession(
        context.assets.open("$dir/${metadata.modelFile}").use { it.readBytes() },
        OrtSession.SessionOptions().apply { setIntraOpNumThreads(threads) },
    )

    /** The text's embedding: [KitMetadata.embeddingSize] floats of length 1. */
    fun embed(text: String): FloatArray {
        val arrays = metadata.textFeeds(tokenizer.encode(text))
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
                return (result.get(0).value as Array<FloatArray>)[0]
            }
        } finally {
            feeds.values.forEach { it.close() }
        }
    }

    /** [texts] ranked by cosine similarity to [query], most similar first. */
    fun search(query: String, texts: List<String>): List<Match> {
        val asked = embed(query)
        return texts.map { Match(it, cosine(asked, embed(it))) }.sortedByDescending { it.score }
    }

    override fun close() = session.close()
}
