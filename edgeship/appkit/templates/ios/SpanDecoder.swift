import Foundation

/// An answer: its text, its span [start, end) in the context in UTF-16 offsets (NSRange(location: start, length:
/// end - start)) and its score, the start logit + end logit (nil, with an empty answer, when the context has no
/// pieces).
struct Answer: Equatable { let text: String; let start: Int; let end: Int; let score: Double? }

/// Extractive question answering's post-processing: the best answer span over all of a context's windows, cut
/// from the context by its pieces' offsets (the same steps as the kit's SpanDecoder.java).
enum SpanDecoder {
    /// The span of context pieces (start <= end, at most `maxAnswerLength` pieces) with the highest start + end
    /// logit over all windows; the first such span wins a tie. `logits[w]`: window w's output, flattened
    /// [max_length][2] (start, end per token).
    static func best(in context: String, windows: [QuestionEncoder.Window], logits: [[Float]], maxAnswerLength: Int) -> Answer {
        var best: (score: Double, start: Int, end: Int)?
        for (window, rows) in zip(windows, logits) {
            let tokens = min(window.spans.count, rows.count / 2)
            for first in 0..<tokens {
                guard let from = window.spans[first] else { continue }
                for last in stride(from: first, to: min(tokens, first + maxAnswerLength), by: 1) {
                    guard let to = window.spans[last] else { continue }
                    let score = Double(rows[2 * first]) + Double(rows[2 * last + 1])
                    if best == nil || score > best!.score { best = (score, from.lowerBound, to.upperBound) }
                }
            }
        }
        guard let found = best else { return Answer(text: "", start: 0, end: 0, score: nil) }
        let utf16 = context.utf16
        let from = utf16.index(utf16.startIndex, offsetBy: found.start)
        let to = utf16.index(utf16.startIndex, offsetBy: found.end)
        return Answer(text: String(context.unicodeScalars[from..<to]), start: found.start, end: found.end, score: found.score)
    }
}
