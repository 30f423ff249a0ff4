import Foundation
import TensorFlowLite

/// Runs the kit's model.tflite with LiteRT (pod TensorFlowLiteSwift); inputs are addressed by their
/// index in metadata.json, outputs by position (one logits tensor).
final class LiteRtClassifier {
    private let metadata: KitMetadata
    private let tokenizer: WordPieceTokenizer?
    private let interpreter: Interpreter

    init(bundle: Bundle = .main, threads: Int = 4) throws {
        metadata = try KitMetadata.load(from: bundle)
        tokenizer = metadata.preprocessing.kind == "text" ? try metadata.tokenizer(bundle: bundle) : nil
        let name = metadata.model.file as NSString
        guard let path = bundle.path(forResource: name.deletingPathExtension, ofType: name.pathExtension) else {
            throw CocoaError(.fileNoSuchFile)
        }
        var options = Interpreter.Options()
        options.threadCount = threads
        interpreter = try Interpreter(modelPath: path, options: options)
        try interpreter.allocateTensors()
    }

    /// Labels with probabilities for one text, most likely first.
    func classify(_ text: String) throws -> [(label: String, probability: Float)] {
        guard let tokenizer else { throw CocoaError(.featureUnsupported) }
        let encoding = tokenizer.encode(text)
        let arrays = ["input_ids": encoding.inputIds, "attention_mask": encoding.attentionMask, "token_type_ids": encoding.tokenTypeIds]
        for input in metadata.inputs {
            let values = arrays[input.name]!
            let data = input.dtype == "int64"
                ? values.map(Int64.init).withUnsafeBufferPointer { Data(buffer: $0) }
                : values.withUnsafeBufferPointer { Data(buffer: $0) }
            try interpreter.copy(data, toInputAt: input.index)
        }
        return try run()
    }

    /// Labels with probabilities for one image, most likely first.
    func classify(_ image: CGImage) throws -> [(label: String, probability: Float)] {
        let pixels = try ImagePreprocessor(metadata.preprocessing).floats(image)
        try interpreter.copy(pixels.withUnsafeBufferPointer { Data(buffer: $0) }, toInputAt: metadata.inputs[0].index)
        return try run()
    }

    private func run() throws -> [(label: String, probability: Float)] {
        try interpreter.invoke()
        let data = try interpreter.output(at: 0).data
        let logits = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return metadata.predictions(logits: logits)
    }
}
