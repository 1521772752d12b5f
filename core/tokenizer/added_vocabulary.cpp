#include "core/tokenizer/added_vocabulary.h"

#include <algorithm>

#include "core/tokenizer/utf8.h"

namespace gp {
namespace {

bool isAsciiSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

size_t previousCharacterStart(std::string_view text, size_t at) {
    size_t i = at - 1;
    while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
    return i;
}

}  // namespace

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens)
    : m_tokens(std::move(tokens)) {
    for (size_t i = 0; i < m_tokens.size(); ++i) {
        const AddedToken& token = m_tokens[i];
        m_byContent.emplace(token.content, i);
        m_byId.emplace(token.id, i);
        if (!token.content.empty())
            m_byFirstByte[static_cast<unsigned char>(token.content[0])].push_back(i);
        if (token.singleWord && !m_wordCharacter)
            m_wordCharacter = std::make_shared<UnicodeRegex>(R"(\w)", false);
    }
    for (auto& candidates : m_byFirstByte)
        std::stable_sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) {
            return m_tokens[a].content.size() > m_tokens[b].content.size();
        });
}

bool AddedVocabulary::hasTokens(bool normalizedPass) const {
    return std::any_of(m_tokens.begin(), m_tokens.end(), [&](const AddedToken& token) {
        return !token.content.empty() && token.normalized == normalizedPass;
    });
}

std::optional<int32_t> AddedVocabulary::idOf(const std::string& content) const {
    const auto it = m_byContent.find(content);
    if (it == m_byContent.end()) return std::nullopt;
    return m_tokens[it->second].id;
}

const AddedToken* AddedVocabulary::tokenOf(int32_t id) const {
    const auto it = m_byId.find(id);
    return it == m_byId.end() ? nullptr : &m_tokens[it->second];
}

size_t AddedVocabulary::longestMatchAt(std::string_view text, size_t at, bool normalizedPass,
                                       const AddedToken** found) const {
    for (size_t index : m_byFirstByte[static_cast<unsigned char>(text[at])]) {
        const AddedToken& token = m_tokens[index];
        if (token.normalized != normalizedPass) continue;
        const size_t length = token.content.size();
        if (text.compare(at, length, token.content) != 0) continue;
        if (token.singleWord) {
            const bool wordBefore =
                at > 0 && m_wordCharacter->matchesAt(text, previousCharacterStart(text, at));
            const bool wordAfter =
                at + length < text.size() && m_wordCharacter->matchesAt(text, at + length);
            if (wordBefore || wordAfter) continue;
        }
        *found = &token;
        return length;
    }
    return 0;
}

std::vector<TextSegment> AddedVocabulary::split(std::string_view text, bool normalizedPass) const {
    std::vector<TextSegment> segments;
    size_t stretchBegin = 0;
    size_t at = 0;
    while (at < text.size()) {
        const AddedToken* token = nullptr;
        const size_t length = longestMatchAt(text, at, normalizedPass, &token);
        if (length == 0) {
            at += utf8SequenceLength(static_cast<unsigned char>(text[at]));
            continue;
        }
        size_t begin = at, end = at + length;
        if (token->lstrip)
            while (begin > stretchBegin && isAsciiSpace(text[begin - 1])) --begin;
        if (token->rstrip)
            while (end < text.size() && isAsciiSpace(text[end])) ++end;
        if (begin > stretchBegin) segments.push_back({stretchBegin, begin, -1});
        segments.push_back({begin, end, token->id});
        stretchBegin = at = end;
    }
    if (stretchBegin < text.size()) segments.push_back({stretchBegin, text.size(), -1});
    return segments;
}

}  // namespace gp
