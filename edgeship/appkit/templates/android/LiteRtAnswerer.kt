package dev.edgeship.kit

import android.content.Context
import org.tensorflow.lite.Interpreter
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.channels.FileChannel

/**
 * Runs the kit's extractive question-answering model (model.tflite) with the LiteRT Interpreter through its
 * serving signature and returns the answer to a question in a context. Copy the kit's assets/ into
 * app/src/main/assets/edgeship/; the model must be stored uncompressed (android { androidResources { noCompress
 * += "tflite" } }) so it can be memory-mapped. A long context is read in windows ([QuestionEncoder]); the answer
 * is the best span over all of them ([SpanDecoder]), its start/end index the context (context.substring(start, end)).
 */
class LiteRtAnswerer(context: Context, dir: String = "edgeship", threads: Int = 4) : AutoCloseable {
    private val metadata = KitMetadata.load(context.assets, dir)

    init {
        require(metadata.isAnswerer) { "metadata.json does not describe a question-answering model: use LiteRtClassifier, LiteRtEmbedder or LiteRtTagger" }
    }

    private val encoder = metadata.questionEncoder(context.assets)
    private val interpreter = Interpreter(mapModel(context, "$dir/${metadata.modelFile}"), Interpreter.Options().setNumThreads(threads))

    /** The answer to [question] in [context]: its text, its span [start, end) in the context and its score. */
    fun answer(question: String, context: String): SpanDecoder.Answer {
        val windows = encoder.encode(question, context)
        return SpanDecoder.best(context, windows, windows.map { spanLogits(it.encoding) }, metadata.maxAnswerLength)
    }

    /** One window's [max_length][2] start and end logits. */
    private fun spanLogits(encoding: WordPieceTokenizer.Encoding): Array<FloatArray> {
        val arrays = metadata.textFeeds(encoding)
        val feeds = metadata.inputs.associate { spec ->
            val values = arrays.getValue(spec.name)
            spec.name to if (spec.dtype == "int64") arrayOf(LongArray(values.size) { values[it].toLong() }) else arrayOf(values)
        }
        val (_, tokens, channels) = metadata.outputShape  // [1, max_length, 2]
        val logits = arrayOf(Array(tokens) { FloatArray(channels) })
        interpreter.runSignature(feeds, mapOf(metadata.outputName to logits))
        return logits[0]
    }

    override fun close() = interpreter.close()

    private fun mapModel(context: Context, path: String): ByteBuffer =
        context.assets.openFd(path).use { fd ->
            FileInputStream(fd.fileDescriptor).channel.use { channel ->
                channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
            }
        }
}
