package dev.edgeship.kit;

import java.util.List;

/**
 * Extractive question answering's post-processing in plain Java (no Android APIs): the best answer span over all
 * of a context's windows, cut from the context by its pieces' offsets.
 */
public final class SpanDecoder {

    private SpanDecoder() {}

    /**
     * An answer: its text, its UTF-16 span [start, end) in the context (context.substring(start, end) is `text`)
     * and its score, the start logit + end logit (null, with an empty answer, when the context has no pieces).
     */
    public static final class Answer {
        public final String text;
        public final int start;
        public final int end;
        public final Double score;

        public Answer(String text, int start, int end, Double score) {
            this.text = text;
            this.start = start;
            this.end = end;
            this.score = score;
        }

        @Override
        public String toString() {
            return "'" + text + "' [" + start + ", " + end + ") " + score;
        }
    }

    /**
     * The span of context pieces (start <= end, at most maxAnswerLength pieces) with the highest start + end
     * logit over all windows; the first such span wins a tie. logits.get(w)[token] = {start, end} for window w.
     */
    public static Answer best(
            String context, List<QuestionEncoder.Window> windows, List<float[][]> logits, int maxAnswerLength) {
        Double best = null;
        int start = 0;
        int end = 0;
        for (int w = 0; w < windows.size(); w++) {
            QuestionEncoder.Window window = windows.get(w);
            float[][] rows = logits.get(w);
            int tokens = Math.min(rows.length, window.starts.length);
            for (int first = 0; first < tokens; first++) {
                if (window.starts[first] < 0) {
                    continue;
                }
                for (int last = first; last < tokens && last - first < maxAnswerLength; last++) {
                    if (window.starts[last] < 0) {
                        continue;
                    }
                    double score = (double) rows[first][0] + rows[last][1];
                    if (best == null || score > best) {
                        best = score;
                        start = window.starts[first];
                        end = window.ends[last];
                    }
                }
            }
        }
        return new Answer(context.substring(start, end), start, end, best);
    }
}
