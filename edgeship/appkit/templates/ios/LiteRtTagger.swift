import Foundation
import TensorFlowLite

/// Runs the kit's token classifier (model.tflite) with LiteRT (pod TensorFlowLiteSwift) and returns the named
/// entities of a text; inputs are addressed by their index in metadata.json, the output by position. Each word
/// takes the tag of its first piece; IOB2 runs become `Entity`s whose start/end are UTF-16 offsets into the
/// original text.
final class LiteRtTagger {
    private let metadata: KitMetadata
    private let tokenizer: WordPieceTokenizer
    private let interpreter: Interpreter

    init(bundle: Bundle = .main, threads: Int = 4) throws {
        metadata = try KitMetadata.load(from: bundle)
        guard metadata.postprocessing.kind == "entities" else { throw CocoaError(.featureUnsupported) }  // not a token classifier's kit
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

    /// The named entities in `text` (type, text, start, end, score), in text order.
    func tag(_ text: String) throws -> [Entity] {
        EntityDecoder.entities(in: text, words: try tagWords(text))
    }

    /// Every word of `text` (up to max_length pieces) with its tag and that tag's probability.
    func tagWords(_ text: String) throws -> [TaggedWord] {
        let words = tokenizer.words(text)
        let (encoding, firstTokens) = tokenizer.encode(words: words)
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
        let logits = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }  // [max_length][tags]
        return EntityDecoder.tagWords(words, firstTokens: firstTokens, logits: logits, labels: metadata.labels)
    }
}
