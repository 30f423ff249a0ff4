import Foundation
import TensorFlowLite

/// Runs the kit's extractive question-answering model (model.tflite) with LiteRT (pod TensorFlowLiteSwift) and
/// returns the answer to a question in a context; inputs are addressed by their index in metadata.json, the output
/// by position. A long context is read in windows (`QuestionEncoder`); the answer is the best span over all of
/// them (`SpanDecoder`), its start/end UTF-16 offsets into the context.
final class LiteRtAnswerer {
    private let metadata: KitMetadata
    private let encoder: QuestionEncoder
    private let interpreter: Interpreter

    init(bundle: Bundle = .main, threads: Int = 4) throws {
        metadata = try KitMetadata.load(from: bundle)
        guard metadata.postprocessing.kind == "answer" else { throw CocoaError(.featureUnsupported) }  // not a question-answering kit
        encoder = try metadata.questionEncoder(bundle: bundle)
        let name = metadata.model.file as NSString
        guard let path = bundle.path(forResource: name.deletingPathExtension, ofType: name.pathExtension) else {
            throw CocoaError(.fileNoSuchFile)
        }
        var options = Interpreter.Options()
        options.threadCount = threads
        interpreter = try Interpreter(modelPath: path, options: options)
        try interpreter.allocateTensors()
    }

    /// The answer to `question` in `context`: its text, its span [start, end) in the context and its score.
    func answer(question: String, context: String) throws -> Answer {
        let windows = try encoder.encode(question: question, context: context)
        let logits = try windows.map { try spanLogits($0.encoding) }
        return SpanDecoder.best(in: context, windows: windows, logits: logits, maxAnswerLength: metadata.postprocessing.max_answer_length ?? 30)
    }

    /// One window's start and end logits, flattened [max_length][2].
    private func spanLogits(_ encoding: WordPieceTokenizer.Encoding) throws -> [Float] {
        let arrays = ["input_ids": encoding.inputIds, "attention_mask": encoding.attentionMask, "token_type_ids": encoding.tokenTypeIds]
        for input in metadata.inputs {
            let values = arrays[input.name]!
            let data = input.dtype == "int64"
                ? values.map(Int64.init).withUnsafeBufferPointer { Data(buffer: $0) }
                : values.withUnsafeBufferPointer { Data(buffer: $0) }
            try interpreter.copy(data, toInputAt: input.index)
        }
        try interpreter.invoke()
        let data = try interpreter.output(at: 0).data
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
