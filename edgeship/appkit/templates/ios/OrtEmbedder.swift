import Foundation
import onnxruntime_objc

/// Runs the kit's sentence encoder (model.ort) with ONNX Runtime (pod onnxruntime-objc). The model pools and
/// normalises: its output is a unit vector, so the cosine similarity of two texts is the dot product of their
/// embeddings (`cosine`).
final class OrtEmbedder {
    private let metadata: KitMetadata
    private let tokenizer: WordPieceTokenizer
    private let session: ORTSession

    init(bundle: Bundle = .main, threads: Int32 = 4) throws {
        metadata = try KitMetadata.load(from: bundle)
        guard metadata.postprocessing.kind == "embedding" else { throw CocoaError(.featureUnsupported) }  // a classifier's kit: OrtClassifier
        tokenizer = try metadata.tokenizer(bundle: bundle)
        let name = metadata.model.file as NSString
        guard let path = bundle.path(forResource: name.deletingPathExtension, ofType: name.pathExtension) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let options = try ORTSessionOptions()
        try options.setIntraOpNumThreads(threads)
        session = try ORTSession(env: try ORTEnv(loggingLevel: .warning), modelPath: path, sessionOptions: options)
    }

    /// The text's embedding: postprocessing.dimension floats of length 1.
    func embed(_ text: String) throws -> [Float] {
        let encoding = tokenizer.encode(text)
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

    /// `texts` ranked by cosine similarity to `query`, most similar first.
    func search(_ query: String, in texts: [String]) throws -> [(text: String, score: Float)] {
        let asked = try embed(query)
        return try texts.map { (text: $0, score: try cosine(asked, embed($0))) }.sorted { $0.score > $1.score }
    }
}
