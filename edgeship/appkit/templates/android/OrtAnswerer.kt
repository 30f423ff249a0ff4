package dev.edgeship.kit

import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import android.content.Context
import java.nio.IntBuffer
import java.nio.LongBuffer

/**
 * Runs the kit's extractive question-answering model (model.ort) with ONNX Runtime for Android
 * (onnxruntime-android, or a reduced build made with required_operators_and_types.config) and returns the answer
 * to a question in a context. Copy the kit's assets/ into app/src/main/assets/edgeship/. A long context is read
 * in windows ([QuestionEncoder]); the answer is the best span over all of them ([SpanDecoder]), its start/end
 * index the context (context.substring(start, end)).
 */
class OrtAnswerer(context: Context, dir: String = "edgeship", threads: Int = 4) : AutoCloseable {
    private val metadata = KitMetadata.load(context.assets, dir)

    init {
        require(metadata.isAnswerer) { "metadata.json does not describe a question-answering model: use OrtClassifier, OrtEmbedder or OrtTagger" }
    }

    private val encoder = metadata.questionEncoder(context.assets)
    private val environment = OrtEnvironment.getEnvironment()
    private val session: OrtSession = environment.createSession(
        context.assets.open("$dir/${metadata.modelFile}").use { it.readBytes() },
        OrtSession.SessionOptions().apply { setIntraOpNumThreads(threads) },
    )

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
                return (result.get(0).value as Array<Array<FloatArray>>)[0]
            }
        } finally {
            feeds.values.forEach { it.close() }
        }
    }

    override fun close() = session.close()
}
