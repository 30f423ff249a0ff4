import Foundation
import onnxruntime_objc

/// Runs the kit's model.ort with ONNX Runtime (pod onnxruntime-objc) and the kit's pre/post-processing.
final class OrtClassifier {
    private let metadata: KitMetadata
    private let tokenizer: WordPieceTokenizer?
    private let session: ORTSession

    init(bundle: Bundle = .main, threads: Int32 = 4) throws {
        metadata = try KitMetadata.load(from: bundle)
        tokenizer = metadata.preprocessing.kind == "text" ? try metadata.tokenizer(bundle: bundle) : nil
        let name = metadata.model.file as NSString
        guard let path = bundle.path(forResource: name.deletingPathExtension, ofType: name.pathExtension) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let options = try ORTSessionOptions()
        try options.setIntraOpNumThreads(threads)
        session = try ORTSession(env: try ORTEnv(loggingLevel: .warning), modelPath: path, sessionOptions: options)
    }

    /// Labels with probabilities for one text, most likely first.
    func classify(_ text: String) throws -> [(label: String, probability: Float)] {
        guard let tokenizer else { throw CocoaError(.featureUnsupported) }
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
        return try run(feeds)
    }

    /// Labels with probabilities for one image, most likely first.
    func classify(_ image: CGImage) throws -> [(label: String, probability: Float)] {
        let input = metadata.inputs[0]
        var pixels = try ImagePreprocessor(metadata.preprocessing).floats(image)
        let data = NSMutableData(bytes: &pixels, length: pixels.count * 4)
        return try run([input.name: try ORTValue(tensorData: data, elementType: .float, shape: input.shape.map { NSNumber(value: $0) })])
    }

    private func run(_ feeds: [String: ORTValue]) throws -> [(label: String, probability: Float)] {
        let output = metadata.postprocessing.output
        let results = try session.run(withInputs: feeds, outputNames: [output], runOptions: nil)
        let data = try results[output]!.tensorData() as Data
        let logits = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return metadata.predictions(logits: logits)
    }
}
