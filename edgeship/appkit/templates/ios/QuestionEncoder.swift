import Foundation

/// Extractive question answering's pre-processing: a question and its context as the windows Hugging Face's
/// tokenizer makes (truncation "only_second" with a stride), each context piece with its UTF-16 span in the
/// context (the same steps as the kit's QuestionEncoder.java).
struct QuestionEncoder {
    /// One window: the model's inputs and, per position, the UTF-16 span in the context of the piece there (nil
    /// for question, special and padding tokens).
    struct Window { let encoding: WordPieceTokenizer.Encoding; let spans: [Range<Int>?] }

    enum Failure: Error {
        /// The (cut) question leaves no more context tokens per window than consecutive windows share.
        case questionTooLong(contextTokens: Int, docStride: Int)
    }

    let tokenizer: WordPieceTokenizer
    let maxLength: Int
    let docStride: Int
    let maxQuestionTokens: Int

    /// The windows of a question about a context: each is [CLS] question [SEP] context pieces [SEP], padded to
    /// maxLength (token type ids 0 up to the first [SEP], 1 after it); consecutive windows share docStride context
    /// pieces. A question of more than maxQuestionTokens pieces is cut at the end of the last piece that fits and
    /// tokenized again.
    func encode(question: String, context: String) throws -> [Window] {
        var asked = tokenizer.pieces(question)
        if asked.count > maxQuestionTokens {
            let utf16 = question.utf16
            let cut = utf16.index(utf16.startIndex, offsetBy: asked[maxQuestionTokens - 1].end)
            asked = tokenizer.pieces(String(question.unicodeScalars[..<cut]))
        }
        let pieces = tokenizer.pieces(context)
        let room = maxLength - 3 - asked.count
        if pieces.count > room && room <= docStride {
            throw Failure.questionTooLong(contextTokens: room, docStride: docStride)
        }
        var windows: [Window] = []
        var start = 0
        while true {
            let stop = min(start + room, pieces.count)
            windows.append(window(asked, pieces[start..<stop]))
            if stop == pieces.count { return windows }
            start += room - docStride
        }
    }

    private func window(_ question: [WordPieceTokenizer.Piece], _ context: ArraySlice<WordPieceTokenizer.Piece>) -> Window {
        let special = tokenizer.specialIds
        var ids = [special.cls] + question.map { tokenizer.id($0.token) } + [special.sep]
        var types = [Int32](repeating: 0, count: ids.count)
        var spans = [Range<Int>?](repeating: nil, count: ids.count)
        for piece in context {
            ids.append(tokenizer.id(piece.token))
            types.append(1)
            spans.append(piece.start..<piece.end)
        }
        ids.append(special.sep)
        types.append(1)
        spans.append(nil)
        let padding = maxLength - ids.count
        let mask = [Int32](repeating: 1, count: ids.count) + [Int32](repeating: 0, count: padding)
        ids += [Int32](repeating: special.pad, count: padding)
        types += [Int32](repeating: 0, count: padding)
        spans += [Range<Int>?](repeating: nil, count: padding)
        return Window(encoding: WordPieceTokenizer.Encoding(inputIds: ids, attentionMask: mask, tokenTypeIds: types), spans: spans)
    }
}
