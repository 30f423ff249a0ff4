import Foundation

/// BERT WordPiece tokenizer matching Hugging Face's BertNormalizer, BertPreTokenizer, WordPiece and
/// [CLS] ... [SEP] template, padded to max_length (the same steps as the kit's WordPieceTokenizer.java); word
/// pieces with their offsets in the text (`pieces`), which QuestionEncoder reads.
final class WordPieceTokenizer {
    struct Encoding { let inputIds: [Int32]; let attentionMask: [Int32]; let tokenTypeIds: [Int32] }
    /// A word of the original text: its span [start, end) in UTF-16 offsets (as NSRange counts), its pieces and
    /// each piece's span in the text (the offsets Hugging Face's tokenizer gives).
    struct Word { let start: Int; let end: Int; let pieces: [String]; let pieceSpans: [Range<Int>] }
    /// A word piece with its span [start, end) in UTF-16 offsets in the original text.
    struct Piece { let token: String; let start: Int; let end: Int }

    private let vocab: [String: Int32]
    private let settings: KitMetadata.Preprocessing
    private let maxLength: Int

    init(vocabURL: URL, settings: KitMetadata.Preprocessing) throws {
        var vocab: [String: Int32] = [:]
        let text = try String(contentsOf: vocabURL, encoding: .utf8)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() where vocab[String(line)] == nil {
            vocab[String(line)] = Int32(vocab.count)
        }
        self.vocab = vocab
        self.settings = settings
        self.maxLength = settings.max_length ?? 128
    }

    func encode(_ text: String) -> Encoding {
        encode(pieces: tokenize(text))
    }

    /// The text's words as the pre-tokenizer splits them (at whitespace and punctuation), with spans in `text`
    /// itself, not in the normalized text: each scalar is normalized on its own.
    func words(_ text: String) -> [Word] {
        var words: [Word] = []
        var current = String.UnicodeScalarView()
        var origins: [Range<Int>] = []  // per normalized scalar: the UTF-16 span in `text` of its character
        var offset = 0
        for scalar in text.unicodeScalars {
            let next = offset + (scalar.value > 0xFFFF ? 2 : 1)
            for normalized in normalize(String(scalar)).unicodeScalars {
                if normalized.properties.isWhitespace || Self.isPunctuation(normalized) {
                    if !current.isEmpty {
                        words.append(word(String(current), origins))
                        current = String.UnicodeScalarView()
                        origins = []
                    }
                    if !normalized.properties.isWhitespace {
                        words.append(word(String(normalized), [offset..<next]))
                    }
                } else {
                    current.append(normalized)
                    origins.append(offset..<next)
                }
            }
            offset = next
        }
        if !current.isEmpty { words.append(word(String(current), origins)) }
        return words
    }

    /// The text's word pieces, each with its UTF-16 span in `text` itself.
    func pieces(_ text: String) -> [Piece] {
        words(text).flatMap { word in
            zip(word.pieces, word.pieceSpans).map { Piece(token: $0, start: $1.lowerBound, end: $1.upperBound) }
        }
    }

    /// A piece's id ([UNK]'s when the vocabulary has no such piece).
    func id(_ piece: String) -> Int32 {
        vocab[piece] ?? vocab[settings.unk_token ?? "[UNK]"]!
    }

    /// The ids of [CLS], [SEP] and [PAD].
    var specialIds: (cls: Int32, sep: Int32, pad: Int32) {
        (vocab[settings.cls_token ?? "[CLS]"]!, vocab[settings.sep_token ?? "[SEP]"]!, vocab[settings.pad_token ?? "[PAD]"]!)
    }

    /// A normalized word; `origins[i]`: the UTF-16 span in the text of the character its i-th scalar came from.
    private func word(_ normalized: String, _ origins: [Range<Int>]) -> Word {
        let spans = pieceSpans(normalized)
        return Word(
            start: origins[0].lowerBound, end: origins[origins.count - 1].upperBound, pieces: spans.map { $0.piece },
            pieceSpans: spans.map { origins[$0.first].lowerBound..<origins[$0.last - 1].upperBound })
    }

    /// The inputs for the words' pieces (what encode(text) gives) and the position of each word's first piece
    /// in inputIds; words cut off by max_length have none.
    func encode(words: [Word]) -> (encoding: Encoding, firstTokens: [Int]) {
        var pieces: [String] = []
        var firstTokens: [Int] = []
        for word in words {
            if pieces.count < maxLength - 2 { firstTokens.append(1 + pieces.count) }  // after [CLS]
            pieces += word.pieces
        }
        return (encode(pieces: pieces), firstTokens)
    }

    private func encode(pieces: [String]) -> Encoding {
        let unk = vocab[settings.unk_token ?? "[UNK]"]!
        var ids = pieces.prefix(maxLength - 2).map { vocab[$0] ?? unk }
        ids = [vocab[settings.cls_token ?? "[CLS]"]!] + ids + [vocab[settings.sep_token ?? "[SEP]"]!]
        let mask = [Int32](repeating: 1, count: ids.count) + [Int32](repeating: 0, count: maxLength - ids.count)
        ids += [Int32](repeating: vocab[settings.pad_token ?? "[PAD]"]!, count: maxLength - ids.count)
        return Encoding(inputIds: ids, attentionMask: mask, tokenTypeIds: [Int32](repeating: 0, count: maxLength))
    }

    func tokenize(_ text: String) -> [String] {
        splitWords(normalize(text)).flatMap(wordPieces)
    }

    private func normalize(_ text: String) -> String {
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if settings.clean_text ?? true, scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
            if settings.clean_text ?? true, scalar.properties.isWhitespace {
                cleaned.append(" ")
            } else if settings.handle_chinese_chars ?? true, Self.isChinese(scalar.value) {
                cleaned.append(" "); cleaned.append(scalar); cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        var result = String(cleaned)
        if settings.strip_accents ?? true {
            let decomposed = result.decomposedStringWithCanonicalMapping.unicodeScalars
            result = String(String.UnicodeScalarView(decomposed.filter { $0.properties.generalCategory != .nonspacingMark }))
        }
        if settings.lowercase ?? true {
            // Per scalar, as Rust's char::to_lowercase (no final-sigma context).
            result = result.unicodeScalars.map { $0.properties.lowercaseMapping }.joined()
        }
        return result
    }

    private func splitWords(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace || Self.isPunctuation(scalar) {
                if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
                if !scalar.properties.isWhitespace { words.append(String(scalar)) }
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(String(current)) }
        return words
    }

    private func wordPieces(_ word: String) -> [String] {
        pieceSpans(word).map { $0.piece }
    }

    /// Greedy longest-match-first pieces, each with its scalars [first, last) in the word; a word with no full
    /// split becomes one [UNK] spanning it.
    private func pieceSpans(_ word: String) -> [(piece: String, first: Int, last: Int)] {
        let scalars = Array(word.unicodeScalars)
        let unk = [(piece: settings.unk_token ?? "[UNK]", first: 0, last: scalars.count)]
        if scalars.count > (settings.max_input_chars_per_word ?? 100) { return unk }
        var pieces: [(piece: String, first: Int, last: Int)] = []
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var match: String?
            while start < end {
                var piece = String(String.UnicodeScalarView(scalars[start..<end]))
                if start > 0 { piece = (settings.continuing_subword_prefix ?? "##") + piece }
                if vocab[piece] != nil { match = piece; break }
                end -= 1
            }
            guard let found = match else { return unk }
            pieces.append((piece: found, first: start, last: end))
            start = end
        }
        return pieces
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "\t" || scalar == "\n" || scalar == "\r" { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    private static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    private static func isChinese(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
