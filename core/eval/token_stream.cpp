#include "core/eval/token_stream.h"

#include "core/runtime/error.h"

namespace gp {
namespace {

bool isBlank(std::string_view text) {
    return text.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

// A document without the whitespace at its ends: the separator usually sits on its own line,
// and llama2.c's TinyStories pre-processing strips each story before encoding it.
std::string_view trimmed(std::string_view text) {
    const size_t first = text.find_first_not_of(" \t\r\n\f\v");
    if (first == std::string_view::npos) return {};
    const size_t last = text.find_last_not_of(" \t\r\n\f\v");
    return text.substr(first, last - first + 1);
}

}  // namespace

void forEachDocument(const std::string& text, const std::string& separator,
                     const std::function<void(std::string_view)>& document) {
    const std::string_view all(text);
    if (separator.empty()) {
        document(all);
        return;
    }
    size_t start = 0;
    while (true) {
        const size_t found = all.find(separator, start);
        const std::string_view piece = all.substr(start, found - start);
        if (!isBlank(piece)) document(trimmed(piece));
        if (found == std::string_view::npos) break;
        start = found + separator.size();
    }
}

std::vector<int32_t> tokenizeText(const Tokenizer& tokenizer, const std::string& text,
                                  const TokenStreamOptions& options,
                                  const std::string& sourceForErrors) {
    std::vector<int32_t> ids;
    const bool documents = !options.docSeparator.empty();
    forEachDocument(text, options.docSeparator, [&](std::string_view document) {
        if (documents && options.bos) ids.push_back(*options.bos);
        const std::vector<int32_t> encoded = tokenizer.encode(document);
        ids.insert(ids.end(), encoded.begin(), encoded.end());
    });
    if (ids.empty()) throw badInput(sourceForErrors, "", "the text yields no tokens");
    return ids;
}

}  // namespace gp
