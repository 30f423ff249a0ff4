import Foundation
import onnxruntime_objc

/// Runs the kit's extractive question-answering model (model.ort) with ONNX Runtime (pod onnxruntime-objc) and
/// returns the answer to a question in a context. A long context is read in windows (`QuestionEncoder`); the
/// answer is the best span over all of them (`SpanDecoder`), its start/end UTF-16 offsets into the context.
final class OrtAnswerer {
    private let metadata: KitMetadata
    private let encoder: QuestionEncoder
    private let session: ORTSession

    init(bundle: Bundle = .main, threads: Int32 = 4) throws {
        metadata = try KitMetadata.load(from: bundle)
        guard metadata.postprocessing.kind == "answer" else { throw CocoaError(.featureUnsupported) }  // not a question-answering kit
        encoder = try metadata.questionEncoder(bundle: bundle)
        let name = metadata.model.file as NSString
        guard let path = bundle.path(forResource: name.deletingPathExtension, ofType: name.pathExtension) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let options = try ORTSessionOptions()
        try options.setIntraOpNumThreads(threads)
        session = try ORTSession(env: try ORTEnv(loggingLevel: .warning), modelPath: path, sessionOptions: options)
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
        var feeds: [String: ORTValue] = [:]
        for input in metadata.inputs {
            let values = arrays[input.name]!
            let shape = input.shape.map { NSNumber(value: $0) }
            if input.dtype == "int64" {
                var wide = values.map(Int64.init)
                feeds[input.name] = try ORTValue(tensorData: NSMutableData(bytes: &wide, length: wide.count * 8), elementType: .int64, shape: shape)
            } else {
                var narrow = values
                feeds[input.name] = try ORTValue(tensorData: NSMutableData(bytes: &narrow, length: narrow.count * 4), elementType: .int32, shape: shape)
            }
        }
        let output = metadata.postprocessing.output
        let results = try session.run(withInputs: feeds, outputNames: [output], runOptions: nil)
        let data = try results[output]!.tensorData() as Data
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
