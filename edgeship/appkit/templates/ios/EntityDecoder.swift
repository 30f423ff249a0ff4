import Foundation

/// A word of the text with its first piece's best tag and that tag's softmax probability.
struct TaggedWord { let start: Int; let end: Int; let tag: String; let score: Float }

/// A named entity: its type (PER, ORG, ...), its text, its span [start, end) in the original text in UTF-16
/// offsets (NSRange(location: start, length: end - start)) and the mean probability of its words' tags.
struct Entity: Equatable { let type: String; let text: String; let start: Int; let end: Int; let score: Float }

/// Token-classification post-processing: each word takes the best tag of its first piece, and IOB2 runs of
/// tagged words become entities with offsets into the original text.
enum EntityDecoder {
    /// Each word tagged at its first piece: `logits` is the model's output for one text, flattened
    /// [max_length][labels.count]; `firstTokens` comes from WordPieceTokenizer.encode(words:).
    static func tagWords(_ words: [WordPieceTokenizer.Word], firstTokens: [Int], logits: [Float], labels: [String]) -> [TaggedWord] {
        zip(words, firstTokens).map { word, token in
            let row = Array(logits[(token * labels.count)..<((token + 1) * labels.count)])
            let best = row.indices.max { row[$0] < row[$1] }!
            let total = row.reduce(Double(0)) { $0 + exp(Double($1 - row[best])) }
            return TaggedWord(start: word.start, end: word.end, tag: labels[best], score: Float(1 / total))
        }
    }

    /// Entities of tagged words, IOB2 as CoNLL and seqeval read it: B-X starts an entity of type X, I-X
    /// continues one of type X, and I-X after O or after another type starts a new one (as does a tag
    /// without a prefix).
    static func entities(in text: String, words: [TaggedWord]) -> [Entity] {
        var runs: [(type: String, start: Int, end: Int, scores: [Float])] = []
        var openType: String?
        for word in words {
            guard word.tag != "O" else { openType = nil; continue }
            let prefixed = word.tag.hasPrefix("B-") || word.tag.hasPrefix("I-")
            let type = prefixed ? String(word.tag.dropFirst(2)) : word.tag
            if word.tag.hasPrefix("I-"), type == openType {
                runs[runs.count - 1].end = word.end
                runs[runs.count - 1].scores.append(word.score)
            } else {
                runs.append((type: type, start: word.start, end: word.end, scores: [word.score]))
            }
            openType = type
        }
        let utf16 = text.utf16
        return runs.map { run in
            let from = utf16.index(utf16.startIndex, offsetBy: run.start)
            let to = utf16.index(utf16.startIndex, offsetBy: run.end)
            let score = run.scores.reduce(0, +) / Float(run.scores.count)
            return Entity(type: run.type, text: String(text.unicodeScalars[from..<to]), start: run.start, end: run.end, score: score)
        }
    }
}
