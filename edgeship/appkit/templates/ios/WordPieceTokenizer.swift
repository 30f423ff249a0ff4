import Foundation

/// BERT WordPiece tokenizer matching Hugging Face's BertNormalizer, BertPreTokenizer, WordPiece and
/// [CLS] ... [SEP] template, padded to max_length (the same steps as the kit's WordPieceTokenizer.java).
final class WordPieceTokenizer {
    struct Encoding { let inputIds: [Int32]; let attentionMask: [Int32]; let tokenTypeIds: [Int32] }
    /// A word of the original text: its span [start, end) in UTF-16 offsets (as NSRange counts) and its pieces.
    struct Word { let start: Int; let end: Int; let pieces: [String] }

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
        var start = 0, end = 0, offset = 0
        for scalar in text.unicodeScalars {
            let next = offset + (scalar.value > 0xFFFF ? 2 : 1)
            for normalized in normalize(String(scalar)).unicodeScalars {
                if normalized.properties.isWhitespace || Self.isPunctuation(normalized) {
                    if !current.isEmpty {
                        words.append(Word(start: start, end: end, pieces: wordPieces(String(current))))
                        current = String.UnicodeScalarView()
                    }
                    if !normalized.properties.isWhitespace {
                        words.append(Word(start: offset, end: next, pieces: wordPieces(String(normalized))))
                    }
                } else {
                    if current.isEmpty { start = offset }
                    current.append(normalized)
                    end = next
                }
            }
            offset = next
        }
        if !current.isEmpty { words.append(Word(start: start, end: end, pieces: wordPieces(String(current)))) }
        return words
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
        let scalars = Array(word.unicodeScalars)
        let unk = settings.unk_token ?? "[UNK]"
        if scalars.count > (settings.max_input_chars_per_word ?? 100) { return [unk] }
        var pieces: [String] = []
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
            guard let found = match else { return [unk] }
            pieces.append(found)
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
