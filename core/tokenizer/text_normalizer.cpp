#include "core/tokenizer/text_normalizer.h"

namespace gp {

void TextNormalizer::addPrepend(std::string text) {
    m_steps.push_back({nullptr, std::move(text)});
}

void TextNormalizer::addReplace(std::shared_ptr<const UnicodeRegex> pattern, std::string content) {
    m_steps.push_back({std::move(pattern), std::move(content)});
}

std::string TextNormalizer::apply(std::string_view text) const {
    std::string current(text);
    for (const Step& step : m_steps) {
        if (!step.pattern) {
            if (!current.empty()) current.insert(0, step.text);
            continue;
        }
        std::string replaced;
        replaced.reserve(current.size());
        size_t copied = 0;
        for (const TextSpan& span : step.pattern->findAll(current)) {
            replaced.append(current, copied, span.begin - copied);
            replaced += step.text;
            copied = span.end;
        }
        replaced.append(current, copied, std::string::npos);
        current = std::move(replaced);
    }
    return current;
}

}  // namespace gp
