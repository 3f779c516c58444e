// The three analysis components the `.security` index (API keys, native users) is
// created with, which live in the analysis-common module the integ-test-zip lacks:
// the `uax_url_email` tokenizer, the `pattern_capture` and `unique` token filters.
// Lucene's own implementations (lucene-analysis-common is in ES's lib/); `unique` is
// RemoveDuplicatesTokenFilter (same-position duplicates), enough for that index.
package org.vnbridge.esroot;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.miscellaneous.RemoveDuplicatesTokenFilter;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;

final class SecurityAnalysis {
    private SecurityAnalysis() {}

    static Map<String, AnalysisProvider<TokenizerFactory>> tokenizers() {
        return Map.of("uax_url_email", (index, env, name, settings) -> new TokenizerFactory() {
            public String name() { return name; }
            public Tokenizer create() { return new UAX29URLEmailTokenizer(); }
        });
    }

    static Map<String, AnalysisProvider<TokenFilterFactory>> filters() {
        return Map.of(
            "pattern_capture", (index, env, name, settings) -> {
                List<String> regexes = settings.getAsList("patterns");
                Pattern[] patterns = regexes.stream().map(Pattern::compile).toArray(Pattern[]::new);
                boolean preserve = settings.getAsBoolean("preserve_original", true);
                return new TokenFilterFactory() {
                    public String name() { return name; }
                    public TokenStream create(TokenStream in) {
                        return new PatternCaptureGroupTokenFilter(in, preserve, patterns);
                    }
                };
            },
            "unique", (index, env, name, settings) -> new TokenFilterFactory() {
                public String name() { return name; }
                public TokenStream create(TokenStream in) { return new RemoveDuplicatesTokenFilter(in); }
            });
    }
}
