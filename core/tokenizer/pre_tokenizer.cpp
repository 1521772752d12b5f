#include "core/tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <utility>

namespace gp {
namespace {

struct Part {
    TextSpan span;
    bool isMatch;
};

// Matches and the gaps between them, covering the whole text in order.
std::vector<Part> partsOf(const std::string& text, const UnicodeRegex& pattern, bool invert) {
    std::vector<Part> parts;
    size_t cursor = 0;
    for (const TextSpan& span : pattern.findAll(text)) {
        if (span.begin > cursor) parts.push_back({{cursor, span.begin}, invert});
        parts.push_back({span, !invert});
        cursor = span.end;
    }
    if (cursor < text.size()) parts.push_back({{cursor, text.size()}, invert});
    return parts;
}

std::vector<TextSpan> keptSpans(const std::vector<Part>& parts, SplitBehavior behavior) {
    std::vector<TextSpan> kept;
    bool previousMatch = false;
    switch (behavior) {
        case SplitBehavior::Removed:
            for (const Part& part : parts)
                if (!part.isMatch) kept.push_back(part.span);
            break;
        case SplitBehavior::Isolated:
            for (const Part& part : parts) kept.push_back(part.span);
            break;
        case SplitBehavior::MergedWithPrevious:
            for (const Part& part : parts) {
                if (part.isMatch && !previousMatch && !kept.empty())
                    kept.back().end = part.span.end;
                else
                    kept.push_back(part.span);
                previousMatch = part.isMatch;
            }
            break;
        case SplitBehavior::MergedWithNext:
            // Walked backwards: a delimiter joins the piece after it unless that is a delimiter
            // too.
            for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
                if (it->isMatch && !previousMatch && !kept.empty())
                    kept.back().begin = it->span.begin;
                else
                    kept.push_back(it->span);
                previousMatch = it->isMatch;
            }
            std::reverse(kept.begin(), kept.end());
            break;
        case SplitBehavior::Contiguous:
            for (const Part& part : parts) {
                if (part.isMatch == previousMatch && !kept.empty())
                    kept.back().end = part.span.end;
                else
                    kept.push_back(part.span);
                previousMatch = part.isMatch;
            }
            break;
    }
    return kept;
}

}  // namespace

void splitPiece(const TextPiece& piece, const UnicodeRegex& pattern, SplitBehavior behavior,
                bool invert, std::vector<TextPiece>& out) {
    for (const TextSpan& span : keptSpans(partsOf(piece.text, pattern, invert), behavior)) {
        if (span.end == span.begin) continue;
        out.push_back({piece.text.substr(span.begin, span.end - span.begin),
                       piece.atStart && span.begin == 0});
    }
}

void PreTokenizer::addSplit(std::shared_ptr<const UnicodeRegex> pattern, SplitBehavior behavior,
                            bool invert) {
    Step step{Kind::Split};
    step.pattern = std::move(pattern);
    step.behavior = behavior;
    step.invert = invert;
    m_steps.push_back(std::move(step));
}

void PreTokenizer::addByteLevel(bool addPrefixSpace, bool useRegex) {
    Step step{Kind::ByteLevel};
    step.addPrefixSpace = addPrefixSpace;
    if (useRegex) step.pattern = std::make_shared<UnicodeRegex>(kGpt2SplitPattern, false);
    m_steps.push_back(std::move(step));
}

void PreTokenizer::addMetaspace(const std::string& replacement, PrependScheme scheme, bool split) {
    Step step{Kind::Metaspace};
    step.replacement = replacement;
    step.scheme = scheme;
    step.split = split;
    if (split) step.pattern = std::make_shared<UnicodeRegex>(replacement, true);
    m_steps.push_back(std::move(step));
}

void PreTokenizer::apply(std::vector<TextPiece>& pieces) const {
    for (const Step& step : m_steps) {
        std::vector<TextPiece> next;
        next.reserve(pieces.size());
        for (const TextPiece& piece : pieces) applyStep(step, piece, next);
        pieces = std::move(next);
    }
}

void PreTokenizer::applyStep(const Step& step, const TextPiece& piece,
                             std::vector<TextPiece>& out) const {
    switch (step.kind) {
        case Kind::Split:
            splitPiece(piece, *step.pattern, step.behavior, step.invert, out);
            return;
        case Kind::ByteLevel: {
            TextPiece prefixed = piece;
            if (step.addPrefixSpace && (prefixed.text.empty() || prefixed.text.front() != ' '))
                prefixed.text.insert(0, " ");
            const size_t first = out.size();
            if (step.pattern)
                splitPiece(prefixed, *step.pattern, SplitBehavior::Isolated, false, out);
            else
                out.push_back(std::move(prefixed));
            for (size_t i = first; i < out.size(); ++i) {
                std::string mapped;
                mapped.reserve(out[i].text.size() * 2);
                m_alphabet.encode(out[i].text, mapped);
                out[i].text = std::move(mapped);
            }
            return;
        }
        case Kind::Metaspace: {
            TextPiece replaced{std::string(), piece.atStart};
            replaced.text.reserve(piece.text.size() + 8);
            for (char c : piece.text) {
                if (c == ' ')
                    replaced.text += step.replacement;
                else
                    replaced.text += c;
            }
            const bool startsWithReplacement =
                replaced.text.compare(0, step.replacement.size(), step.replacement) == 0;
            const bool prepend =
                !startsWithReplacement && (step.scheme == PrependScheme::Always ||
                                           (step.scheme == PrependScheme::First && piece.atStart));
            if (prepend) replaced.text.insert(0, step.replacement);
            if (step.split)
                splitPiece(replaced, *step.pattern, SplitBehavior::MergedWithNext, false, out);
            else
                out.push_back(std::move(replaced));
            return;
        }
    }
}

}  // namespace gp
