package dev.edgeship.kit

import android.content.Context
import android.graphics.Bitmap
import org.tensorflow.lite.Interpreter
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel

/**
 * Runs the kit's model.tflite with the LiteRT Interpreter through its serving signature.
 * Copy the kit's assets/ into app/src/main/assets/edgeship/; the model must be stored uncompressed
 * (android { androidResources { noCompress += "tflite" } }) so it can be memory-mapped.
 */
class LiteRtClassifier(context: Context, dir: String = "edgeship", threads: Int = 4) : AutoCloseable {
    private val metadata = KitMetadata.load(context.assets, dir)
    private val tokenizer = if (metadata.isText) metadata.tokenizer(context.assets) else null
    private val interpreter = Interpreter(mapModel(context, "$dir/${metadata.modelFile}"), Interpreter.Options().setNumThreads(threads))

    /** Labels with probabilities for one text, most likely first. */
    fun classify(text: String): List<Prediction> {
        val encoding = requireNotNull(tokenizer) { "this model takes images" }.encode(text)
        val arrays = metadata.textFeeds(encoding)
        val feeds = metadata.inputs.associate { spec ->
            val values = arrays.getValue(spec.name)
            spec.name to if (spec.dtype == "int64") arrayOf(LongArray(values.size) { values[it].toLong() }) else arrayOf(values)
        }
        return run(feeds)
    }

    /** Labels with probabilities for one image, most likely first. */
    fun classify(bitmap: Bitmap): List<Prediction> {
        val pixels = ImagePreprocessor(metadata.preprocessing).toFloatArray(bitmap)
        val spec = metadata.inputs.single()
        val buffer = ByteBuffer.allocateDirect(pixels.size * 4).order(ByteOrder.nativeOrder())
        buffer.asFloatBuffer().put(pixels)
        return run(mapOf(spec.name to buffer))
    }

    private fun run(feeds: Map<String, Any>): List<Prediction> {
        val logits = arrayOf(FloatArray(metadata.labels.size))
        interpreter.runSignature(feeds, mapOf(metadata.outputName to logits))
        return metadata.predictions(logits[0])
    }

    override fun close() = interpreter.close()

    private fun mapModel(context: Context, path: String): ByteBuffer =
        context.assets.openFd(path).use { fd ->
            FileInputStream(fd.fileDescriptor).channel.use { channel ->
                channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
            }
        }
}
