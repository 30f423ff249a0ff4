import Foundation
import TensorFlowLite

/// Runs the kit's sentence encoder (model.tflite) with LiteRT (pod TensorFlowLiteSwift); inputs are addressed
/// by their index in metadata.json, the output by position (one embedding tensor). The model pools and
/// normalises: its output is a unit vector, so the cosine similarity of two texts is the dot product of their
/// embeddings (`cosine`).
final class LiteRtEmbedder {
    private let metadata: KitMetadata
    private let tokenizer: WordPieceTokenizer
    private let interpreter: Interpreter

    init(bundle: Bundle = .main, threads: Int = 4) throws {
        metadata = try KitMetadata.load(from: bundle)
        guard metadata.postprocessing.kind == "embedding" else { throw CocoaError(.featureUnsupported) }  // a classifier's kit: LiteRtClassifier
        tokenizer = try metadata.tokenizer(bundle: bundle)
        let name = metadata.model.file as NSString
        guard let path = bundle.path(forResource: name.deletingPathExtension, ofType: name.pathExtension) else {
            throw CocoaError(.fileNoSuchFile)
        }
        var options = Interpreter.Options()
        options.threadCount = threads
        interpreter = try Interpreter(modelPath: path, options: options)
        try interpreter.allocateTensors()
    }

    /// The text's embedding: postprocessing.dimension floats of length 1.
    func embed(_ text: String) throws -> [Float] {
        let encoding = tokenizer.encode(text)
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

    /// `texts` ranked by cosine similarity to `query`, most similar first.
    func search(_ query: String, in texts: [String]) throws -> [(text: String, score: Float)] {
        let asked = try embed(query)
        return try texts.map { (text: $0, score: try cosine(asked, embed($0))) }.sorted { $0.score > $1.score }
    }
}
