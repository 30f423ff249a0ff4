import Foundation

/// Cosine similarity of two embeddings; the kit's embeddings have length 1, so it equals their dot product.
func cosine(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "cosine of vectors of \(a.count) and \(b.count) floats")
    var dot: Double = 0, aa: Double = 0, bb: Double = 0
    for i in a.indices {
        dot += Double(a[i]) * Double(b[i])
        aa += Double(a[i]) * Double(a[i])
        bb += Double(b[i]) * Double(b[i])
    }
    return Float(dot / max((aa * bb).squareRoot(), 1e-12))
}

/// metadata.json, decoded; the kit's Resources/ files must be in the app bundle.
struct KitMetadata: Decodable {
    struct Model: Decodable { let file: String; let format: String; let variant: String }
    struct Input: Decodable { let name: String; let index: Int; let dtype: String; let shape: [Int] }
    struct Postprocessing: Decodable {
        let output: String
        /// "embedding" for feature-extraction kits, "entities" for token-classification kits, "answer" for
        /// question-answering kits (absent for classifiers); `dimension`: the embedding's length;
        /// `max_answer_length`: the longest answer in pieces.
        let kind: String?
        let dimension: Int?
        let max_answer_length: Int?
    }
    struct Preprocessing: Decodable {
        let kind: String
        // text
        let max_length: Int?
        let vocab_file: String?
        let clean_text: Bool?
        let handle_chinese_chars: Bool?
        let strip_accents: Bool?
        let lowercase: Bool?
        let continuing_subword_prefix: String?
        let max_input_chars_per_word: Int?
        let unk_token: String?
        let cls_token: String?
        let sep_token: String?
        let pad_token: String?
        // question answering
        let doc_stride: Int?
        let max_question_tokens: Int?
        // image
        let image_size: [Int]?
        let resize_shorter_to: Int?
        let scale: Float?
        let mean: [Float]?
        let std: [Float]?
    }

    let model: Model
    let inputs: [Input]
    let labels: [String]
    let preprocessing: Preprocessing
    let postprocessing: Postprocessing

    static func load(from bundle: Bundle = .main) throws -> KitMetadata {
        guard let url = bundle.url(forResource: "metadata", withExtension: "json") else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try JSONDecoder().decode(KitMetadata.self, from: Data(contentsOf: url))
    }

    /// The tokenizer of a text model, with vocab.txt from the app bundle.
    func tokenizer(bundle: Bundle = .main) throws -> WordPieceTokenizer {
        let name = (preprocessing.vocab_file ?? "vocab.txt") as NSString
        guard let url = bundle.url(forResource: name.deletingPathExtension, withExtension: name.pathExtension) else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try WordPieceTokenizer(vocabURL: url, settings: preprocessing)
    }

    /// A question-answering kit's pre-processing: question and context as windows (doc_stride, max_question_tokens).
    func questionEncoder(bundle: Bundle = .main) throws -> QuestionEncoder {
        guard let length = preprocessing.max_length, let stride = preprocessing.doc_stride,
              let most = preprocessing.max_question_tokens else { throw CocoaError(.featureUnsupported) }
        return QuestionEncoder(tokenizer: try tokenizer(bundle: bundle), maxLength: length, docStride: stride, maxQuestionTokens: most)
    }

    /// Softmax over the logits; labels with probabilities, most likely first.
    func predictions(logits: [Float]) -> [(label: String, probability: Float)] {
        let maximum = logits.max() ?? 0
        let exps = logits.map { expf($0 - maximum) }
        let total = exps.reduce(0, +)
        return zip(labels, exps.map { $0 / total }).map { (label: $0.0, probability: $0.1) }
            .sorted { $0.probability > $1.probability }
    }
}
