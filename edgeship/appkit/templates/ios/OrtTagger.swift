import Foundation
import onnxruntime_objc

/// Runs the kit's token classifier (model.ort) with ONNX Runtime (pod onnxruntime-objc) and returns the named
/// entities of a text. Each word takes the tag of its first piece; IOB2 runs become `Entity`s whose start/end
/// are UTF-16 offsets into the original text.
final class OrtTagger {
    private let metadata: KitMetadata
    private let tokenizer: WordPieceTokenizer
    private let session: ORTSession

    init(bundle: Bundle = .main, threads: Int32 = 4) throws {
        metadata = try KitMetadata.load(from: bundle)
        guard metadata.postprocessing.kind == "entities" else { throw CocoaError(.featureUnsupported) }  // not a token classifier's kit
        tokenizer = try metadata.tokenizer(bundle: bundle)
        let name = metadata.model.file as NSString
        guard let path = bundle.path(forResource: name.deletingPathExtension, ofType: name.pathExtension) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let options = try ORTSessionOptions()
        try options.setIntraOpNumThreads(threads)
        session = try ORTSession(env: try ORTEnv(loggingLevel: .warning), modelPath: path, sessionOptions: options)
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
        let logits = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }  // [max_length][tags]
        return EntityDecoder.tagWords(words, firstTokens: firstTokens, logits: logits, labels: metadata.labels)
    }
}
