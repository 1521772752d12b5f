// A compiled PCRE2 pattern over UTF-8 text with Unicode properties (PCRE2_UTF | PCRE2_UCP, JIT
// where the platform has it), so \p{L}, \s and friends mean what Hugging Face's Oniguruma
// patterns mean. INTERNAL to the tokenizer. The compiled pattern is immutable after
// construction: one object may be used from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gp {

// GPT-2's pre-tokenizer pattern (also the default of Hugging Face's ByteLevel pre-tokenizer).
inline constexpr const char* kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct TextSpan {
    size_t begin = 0;
    size_t end = 0;
};

class UnicodeRegex {
public:
    // Where a pattern was read from (tokenizer.json and the key), so that a match it cannot
    // complete is a bad input naming the file and the pattern; empty for built-in patterns.
    struct Source {
        std::string file;
        std::string key;  // e.g. "pre_tokenizer.pretokenizers[0].pattern"
    };

    // literal: the pattern is a plain string to find, not a regular expression.
    // Throws std::invalid_argument with PCRE2's message and offset when the pattern is bad.
    UnicodeRegex(const std::string& pattern, bool literal, Source source = {});
    ~UnicodeRegex();
    UnicodeRegex(UnicodeRegex&&) noexcept;
    UnicodeRegex& operator=(UnicodeRegex&&) noexcept;

    // Every non-overlapping match, left to right. `text` must be valid UTF-8 (checked by the
    // caller once, so that long texts are not re-validated at every match). A match that PCRE2
    // cannot complete (resource limits: a pattern that backtracks catastrophically) throws
    // gp::Error: BadInput naming the source file and the pattern, or Internal for a built-in one.
    std::vector<TextSpan> findAll(std::string_view text) const;
    // Whether the pattern matches starting exactly at `offset` (anchored there).
    bool matchesAt(std::string_view text, size_t offset) const;

    const std::string& pattern() const { return m_pattern; }

private:
    struct Compiled;
    int matchAt(std::string_view text, size_t offset, uint32_t options, void* matchData) const;
    std::string m_pattern;
    Source m_source;
    std::unique_ptr<Compiled> m_compiled;
};

}  // namespace gp
