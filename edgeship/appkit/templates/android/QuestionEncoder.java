package dev.edgeship.kit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Extractive question answering's pre-processing in plain Java (no Android APIs): a question and its context as
 * the windows Hugging Face's tokenizer makes (truncation "only_second" with a stride), each context piece with
 * its UTF-16 span in the context.
 */
public final class QuestionEncoder {

    /**
     * One window: the model's inputs and, per position, the UTF-16 span [starts[i], ends[i]) in the context of
     * the piece there (-1 for question, special and padding tokens).
     */
    public static final class Window {
        public final WordPieceTokenizer.Encoding encoding;
        public final int[] starts;
        public final int[] ends;

        public Window(WordPieceTokenizer.Encoding encoding, int[] starts, int[] ends) {
            this.encoding = encoding;
            this.starts = starts;
            this.ends = ends;
        }
    }

    private final WordPieceTokenizer tokenizer;
    private final int maxLength;
    private final int docStride;
    private final int maxQuestionTokens;

    /** metadata.json's preprocessing: max_length, doc_stride and max_question_tokens. */
    public QuestionEncoder(WordPieceTokenizer tokenizer, int maxLength, int docStride, int maxQuestionTokens) {
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.docStride = docStride;
        this.maxQuestionTokens = maxQuestionTokens;
    }

    /**
     * The windows of a question about a context: each is [CLS] question [SEP] context pieces [SEP], padded to
     * maxLength (token type ids 0 up to the first [SEP], 1 after it); consecutive windows share docStride context
     * pieces. A question of more than maxQuestionTokens pieces is cut at the end of the last piece that fits and
     * tokenized again.
     */
    public List<Window> encode(String question, String context) {
        List<WordPieceTokenizer.Piece> asked = tokenizer.pieces(question);
        if (asked.size() > maxQuestionTokens) {
            asked = tokenizer.pieces(question.substring(0, asked.get(maxQuestionTokens - 1).end));
        }
        List<WordPieceTokenizer.Piece> pieces = tokenizer.pieces(context);
        int room = maxLength - 3 - asked.size();
        if (pieces.size() > room && room <= docStride) {
            throw new IllegalArgumentException(
                    "the question leaves " + room + " context tokens per window, not more than doc_stride (" + docStride + ")");
        }
        List<Window> windows = new ArrayList<>();
        for (int start = 0; ; start += room - docStride) {
            int stop = Math.min(start + room, pieces.size());
            windows.add(window(asked, pieces.subList(start, stop)));
            if (stop == pieces.size()) {
                return windows;
            }
        }
    }

    private Window window(List<WordPieceTokenizer.Piece> question, List<WordPieceTokenizer.Piece> context) {
        int[] ids = new int[maxLength];
        int[] mask = new int[maxLength];
        int[] types = new int[maxLength];
        int[] starts = new int[maxLength];
        int[] ends = new int[maxLength];
        Arrays.fill(ids, tokenizer.padId);
        Arrays.fill(starts, -1);
        Arrays.fill(ends, -1);
        int at = 0;
        ids[at++] = tokenizer.clsId;
        for (WordPieceTokenizer.Piece piece : question) {
            ids[at++] = tokenizer.id(piece.token);
        }
        ids[at++] = tokenizer.sepId;
        for (WordPieceTokenizer.Piece piece : context) {
            starts[at] = piece.start;
            ends[at] = piece.end;
            types[at] = 1;
            ids[at++] = tokenizer.id(piece.token);
        }
        types[at] = 1;
        ids[at++] = tokenizer.sepId;
        Arrays.fill(mask, 0, at, 1);
        return new Window(new WordPieceTokenizer.Encoding(ids, mask, types), starts, ends);
    }
}
