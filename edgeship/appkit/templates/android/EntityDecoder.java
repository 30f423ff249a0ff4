package dev.edgeship.kit;

import java.util.ArrayList;
import java.util.List;

/**
 * Token-classification post-processing in plain Java (no Android APIs): each word takes the best tag of its
 * first piece, and IOB2 runs of tagged words become entities with character offsets into the original text.
 */
public final class EntityDecoder {

    private EntityDecoder() {}

    /** A word of the text with its first piece's best tag and that tag's softmax probability. */
    public static final class TaggedWord {
        public final int start;
        public final int end;
        public final String tag;
        public final float score;

        public TaggedWord(int start, int end, String tag, float score) {
            this.start = start;
            this.end = end;
            this.tag = tag;
            this.score = score;
        }
    }

    /**
     * A named entity: its type (PER, ORG, ...), its text, its UTF-16 span [start, end) in the original text
     * (text.substring(start, end) is `text`) and the mean probability of its words' tags.
     */
    public static final class Entity {
        public final String type;
        public final String text;
        public final int start;
        public final int end;
        public final float score;

        public Entity(String type, String text, int start, int end, float score) {
            this.type = type;
            this.text = text;
            this.start = start;
            this.end = end;
            this.score = score;
        }

        @Override
        public String toString() {
            return type + " '" + text + "' [" + start + ", " + end + ") " + score;
        }
    }

    /**
     * Each word tagged at its first piece: logits[token][tag] is the model's output for one text,
     * firstTokens[i] the position of word i's first piece (WordPieceTokenizer.encodeWords).
     */
    public static List<TaggedWord> tagWords(
            List<WordPieceTokenizer.Word> words, int[] firstTokens, float[][] logits, List<String> labels) {
        List<TaggedWord> tagged = new ArrayList<>();
        for (int i = 0; i < firstTokens.length && i < words.size(); i++) {
            float[] row = logits[firstTokens[i]];
            int best = 0;
            for (int t = 1; t < row.length; t++) {
                if (row[t] > row[best]) {
                    best = t;
                }
            }
            double total = 0;
            for (float value : row) {
                total += Math.exp(value - row[best]);
            }
            WordPieceTokenizer.Word word = words.get(i);
            tagged.add(new TaggedWord(word.start, word.end, labels.get(best), (float) (1 / total)));
        }
        return tagged;
    }

    /**
     * Entities of tagged words, IOB2 as CoNLL and seqeval read it: B-X starts an entity of type X, I-X continues
     * one of type X, and I-X after O or after another type starts a new one (as does a tag without a prefix).
     */
    public static List<Entity> entities(String text, List<TaggedWord> words) {
        List<Entity> found = new ArrayList<>();
        String openType = null;
        int start = 0;
        int end = 0;
        double scoreSum = 0;
        int count = 0;
        for (TaggedWord word : words) {
            String type = null;
            boolean continues = false;
            if (!word.tag.equals("O")) {
                boolean prefixed = word.tag.startsWith("B-") || word.tag.startsWith("I-");
                type = prefixed ? word.tag.substring(2) : word.tag;
                continues = word.tag.startsWith("I-") && type.equals(openType);
            }
            if (continues) {
                end = word.end;
                scoreSum += word.score;
                count++;
                continue;
            }
            if (openType != null) {
                found.add(new Entity(openType, text.substring(start, end), start, end, (float) (scoreSum / count)));
            }
            openType = type;
            start = word.start;
            end = word.end;
            scoreSum = word.score;
            count = 1;
        }
        if (openType != null) {
            found.add(new Entity(openType, text.substring(start, end), start, end, (float) (scoreSum / count)));
        }
        return found;
    }
}
