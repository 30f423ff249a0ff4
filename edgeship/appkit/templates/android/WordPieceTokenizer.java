package dev.edgeship.kit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * BERT WordPiece tokenizer in plain Java (no Android APIs), matching Hugging Face's BertNormalizer,
 * BertPreTokenizer, WordPiece model and [CLS] ... [SEP] template, padded to maxLength; word pieces with their
 * offsets in the text (pieces), which QuestionEncoder reads.
 */
public final class WordPieceTokenizer {

    /** Model inputs for one text: all arrays are maxLength long. */
    public static final class Encoding {
        public final int[] inputIds;
        public final int[] attentionMask;
        public final int[] tokenTypeIds;

        Encoding(int[] inputIds, int[] attentionMask, int[] tokenTypeIds) {
            this.inputIds = inputIds;
            this.attentionMask = attentionMask;
            this.tokenTypeIds = tokenTypeIds;
        }
    }

    /**
     * A word of the original text: its UTF-16 span [start, end) in that text, its word pieces and each piece's
     * span [pieceStarts[i], pieceEnds[i]) in that text (the offsets Hugging Face's tokenizer gives).
     */
    public static final class Word {
        public final int start;
        public final int end;
        public final List<String> pieces;
        public final int[] pieceStarts;
        public final int[] pieceEnds;

        Word(int start, int end, List<String> pieces, int[] pieceStarts, int[] pieceEnds) {
            this.start = start;
            this.end = end;
            this.pieces = pieces;
            this.pieceStarts = pieceStarts;
            this.pieceEnds = pieceEnds;
        }
    }

    /** A word piece with its UTF-16 span [start, end) in the original text. */
    public static final class Piece {
        public final String token;
        public final int start;
        public final int end;

        Piece(String token, int start, int end) {
            this.token = token;
            this.start = start;
            this.end = end;
        }
    }

    /** The inputs for a list of words, and where each word's first piece is in inputIds. */
    public static final class WordEncoding {
        public final Encoding encoding;
        /** firstTokens[i]: the position of word i's first piece; words cut off by maxLength have none. */
        public final int[] firstTokens;

        WordEncoding(Encoding encoding, int[] firstTokens) {
            this.encoding = encoding;
            this.firstTokens = firstTokens;
        }
    }

    /** The settings metadata.json's "preprocessing" object holds. */
    public static final class Config {
        public boolean cleanText = true;
        public boolean handleChineseChars = true;
        public boolean stripAccents = true;
        public boolean lowercase = true;
        public String continuingSubwordPrefix = "##";
        public int maxInputCharsPerWord = 100;
        public int maxLength = 128;
        public String unkToken = "[UNK]";
        public String clsToken = "[CLS]";
        public String sepToken = "[SEP]";
        public String padToken = "[PAD]";
    }

    private final Map<String, Integer> vocab;
    final Config config;
    private final int unkId;
    final int clsId;
    final int sepId;
    final int padId;

    public WordPieceTokenizer(Map<String, Integer> vocab, Config config) {
        this.vocab = vocab;
        this.config = config;
        this.unkId = idOf(config.unkToken);
        this.clsId = idOf(config.clsToken);
        this.sepId = idOf(config.sepToken);
        this.padId = idOf(config.padToken);
    }

    /** vocab.txt: the token on line i has id i. */
    public static Map<String, Integer> readVocab(InputStream stream) throws IOException {
        Map<String, Integer> vocab = new HashMap<>();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                vocab.putIfAbsent(line, vocab.size());
            }
        }
        return vocab;
    }

    /** Token ids, attention mask and token type ids for one text, truncated and padded to maxLength. */
    public Encoding encode(String text) {
        return encodePieces(tokenize(text));
    }

    /**
     * The words of a text as the pre-tokenizer splits them (at whitespace and punctuation), with their spans in
     * {@code text} itself, not in the normalized text: each character is normalized on its own.
     */
    public List<Word> words(String text) {
        List<Word> words = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        List<int[]> origins = new ArrayList<>(); // per normalized code point: its character's {start, end}
        for (int index = 0; index < text.length(); ) {
            int next = index + Character.charCount(text.codePointAt(index));
            int[] normalized = normalize(text.substring(index, next)).codePoints().toArray();
            for (int cp : normalized) {
                if (isWhitespace(cp) || isPunctuation(cp)) {
                    if (current.length() > 0) {
                        words.add(word(current.toString(), origins));
                        current.setLength(0);
                        origins = new ArrayList<>();
                    }
                    if (!isWhitespace(cp)) {
                        List<int[]> origin = new ArrayList<>();
                        origin.add(new int[] {index, next});
                        words.add(word(new String(Character.toChars(cp)), origin));
                    }
                } else {
                    current.appendCodePoint(cp);
                    origins.add(new int[] {index, next});
                }
            }
            index = next;
        }
        if (current.length() > 0) {
            words.add(word(current.toString(), origins));
        }
        return words;
    }

    /** The word pieces of a text, each with its UTF-16 span in {@code text} itself. */
    public List<Piece> pieces(String text) {
        List<Piece> pieces = new ArrayList<>();
        for (Word word : words(text)) {
            for (int i = 0; i < word.pieces.size(); i++) {
                pieces.add(new Piece(word.pieces.get(i), word.pieceStarts[i], word.pieceEnds[i]));
            }
        }
        return pieces;
    }

    /** The inputs for the words' pieces (what encode(text) gives) and each word's first piece position. */
    public WordEncoding encodeWords(List<Word> words) {
        List<String> pieces = new ArrayList<>();
        int[] firstTokens = new int[words.size()];
        int tagged = 0;
        for (Word word : words) {
            if (pieces.size() < config.maxLength - 2) {
                firstTokens[tagged++] = 1 + pieces.size(); // after [CLS]
            }
            pieces.addAll(word.pieces);
        }
        return new WordEncoding(encodePieces(pieces), Arrays.copyOf(firstTokens, tagged));
    }

    /** A piece's id ([UNK]'s when the vocabulary has no such piece). */
    int id(String piece) {
        return vocab.getOrDefault(piece, unkId);
    }

    /** A normalized word; origins[i]: the {start, end} in the text of the character its i-th code point is from. */
    private Word word(String normalized, List<int[]> origins) {
        List<String> pieces = new ArrayList<>();
        List<int[]> spans = new ArrayList<>();
        wordPieces(normalized, pieces, spans);
        int[] starts = new int[spans.size()];
        int[] ends = new int[spans.size()];
        for (int i = 0; i < spans.size(); i++) {
            starts[i] = origins.get(spans.get(i)[0])[0];
            ends[i] = origins.get(spans.get(i)[1] - 1)[1];
        }
        return new Word(origins.get(0)[0], origins.get(origins.size() - 1)[1], pieces, starts, ends);
    }

    private Encoding encodePieces(List<String> tokens) {
        List<Integer> pieces = new ArrayList<>();
        for (String token : tokens) {
            pieces.add(vocab.getOrDefault(token, unkId));
        }
        int length = Math.min(pieces.size(), config.maxLength - 2);
        int[] ids = new int[config.maxLength];
        int[] mask = new int[config.maxLength];
        Arrays.fill(ids, padId);
        ids[0] = clsId;
        for (int i = 0; i < length; i++) {
            ids[i + 1] = pieces.get(i);
        }
        ids[length + 1] = sepId;
        Arrays.fill(mask, 0, length + 2, 1);
        return new Encoding(ids, mask, new int[config.maxLength]);
    }

    /** Word pieces of a text, before special tokens and truncation. */
    public List<String> tokenize(String text) {
        List<String> tokens = new ArrayList<>();
        for (String word : splitWords(normalize(text))) {
            wordPieces(word, tokens);
        }
        return tokens;
    }

    String normalize(String text) {
        StringBuilder cleaned = new StringBuilder(text.length());
        text.codePoints().forEach(cp -> {
            if (config.cleanText && (cp == 0 || cp == 0xFFFD || isControl(cp))) {
                return;
            }
            if (config.cleanText && isWhitespace(cp)) {
                cleaned.append(' ');
            } else if (config.handleChineseChars && isChinese(cp)) {
                cleaned.append(' ').appendCodePoint(cp).append(' ');
            } else {
                cleaned.appendCodePoint(cp);
            }
        });
        String result = cleaned.toString();
        if (config.stripAccents) {
            StringBuilder stripped = new StringBuilder(result.length());
            Normalizer.normalize(result, Normalizer.Form.NFD).codePoints()
                    .filter(cp -> Character.getType(cp) != Character.NON_SPACING_MARK)
                    .forEach(stripped::appendCodePoint);
            result = stripped.toString();
        }
        if (config.lowercase) {
            StringBuilder lowered = new StringBuilder(result.length());
            // Per code point, as Rust's char::to_lowercase: no context (final sigma), full mapping for U+0130.
            result.codePoints().forEach(cp -> {
                if (cp == 0x130) {
                    lowered.append("i\u0307");
                } else {
                    lowered.appendCodePoint(Character.toLowerCase(cp));
                }
            });
            result = lowered.toString();
        }
        return result;
    }

    /** Split on whitespace (dropped) and around punctuation (each mark its own word). */
    static List<String> splitWords(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        text.codePoints().forEach(cp -> {
            if (isWhitespace(cp) || isPunctuation(cp)) {
                if (current.length() > 0) {
                    words.add(current.toString());
                    current.setLength(0);
                }
                if (!isWhitespace(cp)) {
                    words.add(new String(Character.toChars(cp)));
                }
            } else {
                current.appendCodePoint(cp);
            }
        });
        if (current.length() > 0) {
            words.add(current.toString());
        }
        return words;
    }

    private void wordPieces(String word, List<String> out) {
        wordPieces(word, out, new ArrayList<>());
    }

    /**
     * Greedy longest-match-first pieces, each with its {first, last} code points in the word (into spans); a word
     * with no full split becomes one [UNK] spanning it.
     */
    private void wordPieces(String word, List<String> out, List<int[]> spans) {
        int[] cps = word.codePoints().toArray();
        if (cps.length > config.maxInputCharsPerWord) {
            out.add(config.unkToken);
            spans.add(new int[] {0, cps.length});
            return;
        }
        List<String> pieces = new ArrayList<>();
        List<int[]> found = new ArrayList<>();
        int start = 0;
        while (start < cps.length) {
            String match = null;
            int end = cps.length;
            while (start < end) {
                String piece = new String(cps, start, end - start);
                if (start > 0) {
                    piece = config.continuingSubwordPrefix + piece;
                }
                if (vocab.containsKey(piece)) {
                    match = piece;
                    break;
                }
                end--;
            }
            if (match == null) {
                out.add(config.unkToken);
                spans.add(new int[] {0, cps.length});
                return;
            }
            pieces.add(match);
            found.add(new int[] {start, end});
            start = end;
        }
        out.addAll(pieces);
        spans.addAll(found);
    }

    private int idOf(String token) {
        Integer id = vocab.get(token);
        if (id == null) {
            throw new IllegalArgumentException("token " + token + " is not in the vocabulary");
        }
        return id;
    }

    /** Unicode White_Space (what Rust's char::is_whitespace tests). */
    static boolean isWhitespace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
                || cp == 0x205F || cp == 0x3000;
    }

    /** Other (C*) categories, except tab, newline and carriage return, which count as whitespace. */
    static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        int type = Character.getType(cp);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.UNASSIGNED
                || type == Character.PRIVATE_USE || type == Character.SURROGATE;
    }

    /** ASCII punctuation (including $+<=>^`|~) or any Unicode P* category. */
    static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
            return true;
        }
        int type = Character.getType(cp);
        return type == Character.CONNECTOR_PUNCTUATION || type == Character.DASH_PUNCTUATION
                || type == Character.START_PUNCTUATION || type == Character.END_PUNCTUATION
                || type == Character.INITIAL_QUOTE_PUNCTUATION || type == Character.FINAL_QUOTE_PUNCTUATION
                || type == Character.OTHER_PUNCTUATION;
    }

    /** CJK Unified Ideographs and their extensions and compatibility blocks. */
    static boolean isChinese(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B820 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
