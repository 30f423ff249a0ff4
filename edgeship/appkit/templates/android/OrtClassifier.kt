package dev.edgeship.kit

import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import android.content.Context
import android.graphics.Bitmap
import java.nio.FloatBuffer
import java.nio.IntBuffer
import java.nio.LongBuffer

/**
 * Runs the kit's model.ort with ONNX Runtime for Android (onnxruntime-android, or a reduced build made
 * with required_operators_and_types.config). Copy the kit's assets/ into app/src/main/assets/edgeship/.
 */
class OrtClassifier(context: Context, dir: String = "edgeship", threads: Int = 4) : AutoCloseable {
    private val metadata = KitMetadata.load(context.assets, dir)
    private val tokenizer = if (metadata.isText) metadata.tokenizer(context.assets) else null
    private val environment = OrtEnvironment.getEnvironment()
    private val session: OrtSession = environment.createSession(
        context.assets.open("$dir/${metadata.modelFile}").use { it.readBytes() },
        OrtSession.SessionOptions().apply { setIntraOpNumThreads(threads) },
    )

    /** Labels with probabilities for one text, most likely first. */
    fun classify(text: String): List<Prediction> {
        val encoding = requireNotNull(tokenizer) { "this model takes images" }.encode(text)
        val arrays = metadata.textFeeds(encoding)
        val feeds = metadata.inputs.associate { spec ->
            val values = arrays.getValue(spec.name)
            val shape = spec.shape.map { it.toLong() }.toLongArray()
            spec.name to if (spec.dtype == "int64") {
                OnnxTensor.createTensor(environment, LongBuffer.wrap(LongArray(values.size) { values[it].toLong() }), shape)
            } else {
                OnnxTensor.createTensor(environment, IntBuffer.wrap(values), shape)
            }
        }
        return run(feeds)
    }

    /** Labels with probabilities for one image, most likely first. */
    fun classify(bitmap: Bitmap): List<Prediction> {
        val spec = metadata.inputs.single()
        val pixels = ImagePreprocessor(metadata.preprocessing).toFloatArray(bitmap)
        val shape = spec.shape.map { it.toLong() }.toLongArray()
        return run(mapOf(spec.name to OnnxTensor.createTensor(environment, FloatBuffer.wrap(pixels), shape)))
    }

    private fun run(feeds: Map<String, OnnxTensor>): List<Prediction> {
        try {
            session.run(feeds, setOf(metadata.outputName)).use { result ->
                @Suppress("UNCHECKED_CAST")
                val logits = (result.get(0).value as Array<FloatArray>)[0]
                return metadata.predictions(logits)
            }
        } finally {
            feeds.values.forEach { it.close() }
        }
    }

    override fun close() = session.close()
}
