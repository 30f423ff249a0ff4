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
 * BertPreTokenizer, WordPiece model and [CLS] ... [SEP] template, padded to maxLength.
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

    /** A word of the original text: its UTF-16 span [start, end) in that text and its word pieces. */
    public static final class Word {
        public final int start;
        public final int end;
        public final List<String> pieces;

        Word(int start, int end, List<String> pieces) {
            this.start = start;
            this.end = end;
            this.pieces = pieces;
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
    private final Config config;
    private final int unkId;
    private final int clsId;
    private final int sepId;
    private final int padId;

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
        int start = 0;
        int end = 0;
        for (int index = 0; index < text.length(); ) {
            int next = index + Character.charCount(text.codePointAt(index));
            int[] normalized = normalize(text.substring(index, next)).codePoints().toArray();
            for (int cp : normalized) {
                if (isWhitespace(cp) || isPunctuation(cp)) {
                    if (current.length() > 0) {
                        words.add(word(current.toString(), start, end));
                        current.setLength(0);
                    }
                    if (!isWhitespace(cp)) {
                        words.add(word(new String(Character.toChars(cp)), index, next));
                    }
                } else {
                    if (current.length() == 0) {
                        start = index;
                    }
                    current.appendCodePoint(cp);
                    end = next;
                }
            }
            index = next;
        }
        if (current.length() > 0) {
            words.add(word(current.toString(), start, end));
        }
        return words;
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

    private Word word(String normalized, int start, int end) {
        List<String> pieces = new ArrayList<>();
        wordPieces(normalized, pieces);
        return new Word(start, end, pieces);
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

    /** Greedy longest-match-first pieces; a word with no full split becomes [UNK]. */
    private void wordPieces(String word, List<String> out) {
        int[] cps = word.codePoints().toArray();
        if (cps.length > config.maxInputCharsPerWord) {
            out.add(config.unkToken);
            return;
        }
        List<String> pieces = new ArrayList<>();
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
                return;
            }
            pieces.add(match);
            start = end;
        }
        out.addAll(pieces);
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
