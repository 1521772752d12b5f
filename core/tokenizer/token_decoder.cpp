#include "core/tokenizer/token_decoder.h"

#include <cctype>

namespace gp {
namespace {

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::string replaceAll(const std::string& token, const UnicodeRegex& pattern,
                       const std::string& content) {
    std::string out;
    size_t copied = 0;
    for (const TextSpan& span : pattern.findAll(token)) {
        out.append(token, copied, span.begin - copied);
        out += content;
        copied = span.end;
    }
    out.append(token, copied, std::string::npos);
    return out;
}

std::string replaceLiteral(const std::string& token, const std::string& from,
                           const std::string& to) {
    std::string out;
    size_t copied = 0;
    for (size_t at = token.find(from); at != std::string::npos; at = token.find(from, copied)) {
        out.append(token, copied, at - copied);
        out += to;
        copied = at + from.size();
    }
    out.append(token, copied, std::string::npos);
    return out;
}

}  // namespace

int byteOfFallbackPiece(const std::string& piece) {
    if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
    const int high = hexValue(piece[3]), low = hexValue(piece[4]);
    return high < 0 || low < 0 ? -1 : high * 16 + low;
}

void TokenDecoder::addByteLevel() {
    m_steps.emplace_back(Kind::ByteLevel);
}

void TokenDecoder::addReplace(std::shared_ptr<const UnicodeRegex> pattern, std::string content) {
    Step step(Kind::Replace);
    step.pattern = std::move(pattern);
    step.text = std::move(content);
    m_steps.push_back(std::move(step));
}

void TokenDecoder::addByteFallback() {
    m_steps.emplace_back(Kind::ByteFallback);
}

void TokenDecoder::addFuse() {
    m_steps.emplace_back(Kind::Fuse);
}

void TokenDecoder::addStrip(std::string content, size_t start, size_t stop) {
    Step step(Kind::Strip);
    step.text = std::move(content);
    step.start = start;
    step.stop = stop;
    m_steps.push_back(std::move(step));
}

void TokenDecoder::addMetaspace(std::string replacement, bool stripFirst) {
    Step step(Kind::Metaspace);
    step.text = std::move(replacement);
    step.stripFirst = stripFirst;
    m_steps.push_back(std::move(step));
}

std::string TokenDecoder::decode(std::vector<std::string> tokens) const {
    std::string text;
    if (m_steps.empty()) {
        for (size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + tokens[i];
        return text;
    }
    for (const Step& step : m_steps) applyStep(step, tokens);
    for (const std::string& token : tokens) text += token;
    return text;
}

void TokenDecoder::applyStep(const Step& step, std::vector<std::string>& tokens) const {
    switch (step.kind) {
        case Kind::ByteLevel: {
            // A piece spelled outside the byte alphabet (an added token such as "[PAD]" with a
            // space) is taken as it is, as Hugging Face does.
            std::string bytes;
            for (const std::string& token : tokens) {
                if (const auto decoded = m_alphabet.decode(token))
                    bytes += *decoded;
                else
                    bytes += token;
            }
            tokens.assign(1, std::move(bytes));
            return;
        }
        case Kind::Replace:
            for (std::string& token : tokens) token = replaceAll(token, *step.pattern, step.text);
            return;
        case Kind::ByteFallback: {
            // Consecutive byte pieces become one token, so a later per-token step (Strip) sees
            // them as Hugging Face does.
            std::vector<std::string> out;
            std::string pending;
            bool pendingBytes = false;
            for (std::string& token : tokens) {
                const int byte = byteOfFallbackPiece(token);
                if (byte >= 0) {
                    pending += char(byte);
                    pendingBytes = true;
                    continue;
                }
                if (pendingBytes) out.push_back(std::move(pending)), pending.clear();
                pendingBytes = false;
                out.push_back(std::move(token));
            }
            if (pendingBytes) out.push_back(std::move(pending));
            tokens = std::move(out);
            return;
        }
        case Kind::Fuse: {
            std::string fused;
            for (const std::string& token : tokens) fused += token;
            tokens.assign(1, std::move(fused));
            return;
        }
        case Kind::Strip:
            for (std::string& token : tokens) {
                const size_t n = step.text.size();
                size_t begin = 0, end = token.size();
                for (size_t k = 0;
                     k < step.start && end - begin >= n && token.compare(begin, n, step.text) == 0;
                     ++k)
                    begin += n;
                for (size_t k = 0;
                     k < step.stop && end - begin >= n && token.compare(end - n, n, step.text) == 0;
                     ++k)
                    end -= n;
                token = token.substr(begin, end - begin);
            }
            return;
        case Kind::Metaspace:
            for (size_t i = 0; i < tokens.size(); ++i)
                tokens[i] =
                    replaceLiteral(tokens[i], step.text, i == 0 && step.stripFirst ? "" : " ");
            return;
    }
}

}  // namespace gp
