// Hugging Face pre-tokenizers used with BPE: ByteLevel (GPT-2 split + byte-to-character map),
// Split (a regex or string with a delimiter behaviour), Metaspace (" " -> "▁", the dummy prefix,
// optional split before each "▁"), Digits, and Sequence (steps applied in order to every piece).
// INTERNAL to the tokenizer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/byte_level_alphabet.h"
#include "core/tokenizer/unicode_regex.h"

namespace gp {

// A piece of text on its way to the BPE model. atStart: the piece begins at offset 0 of the
// original input (Metaspace's prepend_scheme "first" prefixes only such a piece).
struct TextPiece {
    std::string text;
    bool atStart = false;
};

// How the matches of a Split pattern end up among the pieces (Hugging Face's names).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

enum class PrependScheme { Always, First, Never };

class PreTokenizer {
public:
    void addSplit(std::shared_ptr<const UnicodeRegex> pattern, SplitBehavior behavior, bool invert);
    // add_prefix_space: prefix " " to a piece that does not start with one; useRegex: split with
    // the GPT-2 pattern; then every byte becomes its byte-level character.
    void addByteLevel(bool addPrefixSpace, bool useRegex);
    void addMetaspace(const std::string& replacement, PrependScheme scheme, bool split);

    bool empty() const { return m_steps.empty(); }
    void apply(std::vector<TextPiece>& pieces) const;

private:
    enum class Kind { Split, ByteLevel, Metaspace };
    struct Step {
        explicit Step(Kind stepKind) : kind(stepKind) {}
        Kind kind;
        std::shared_ptr<const UnicodeRegex>
            pattern;  // Split; ByteLevel with regex; Metaspace split
        SplitBehavior behavior = SplitBehavior::Isolated;
        bool invert = false;
        bool addPrefixSpace = false;                   // ByteLevel
        std::string replacement;                       // Metaspace
        PrependScheme scheme = PrependScheme::Always;  // Metaspace
        bool split = false;                            // Metaspace
    };
    void applyStep(const Step& step, const TextPiece& piece, std::vector<TextPiece>& out) const;

    std::vector<Step> m_steps;
    ByteLevelAlphabet m_alphabet;
};

// Cuts `piece` at the matches of `pattern` as Hugging Face's NormalizedString::split does.
void splitPiece(const TextPiece& piece, const UnicodeRegex& pattern, SplitBehavior behavior,
                bool invert, std::vector<TextPiece>& out);

}  // namespace gp
