#include "core/tokenizer/tokenizer.h"

#include <fstream>

#include "core/runtime/error.h"

namespace gp {
namespace {

bool looksLikeJson(const std::string& path) {
    const std::string suffix = ".json";
    if (path.size() >= suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
        return true;
    // A tokenizer.bin starts with a uint32 (max_token_length): even one whose first byte is '{'
    // is followed by bytes no JSON object has there ('"' or '}' after optional white space).
    std::ifstream in(path, std::ios::binary);
    if (!in) throw badInput(path, "", "cannot open the file");
    const auto nextNonSpace = [&in]() {
        char c = 0;
        while (in.get(c))
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c;
        return char(0);
    };
    if (nextNonSpace() != '{') return false;
    const char second = nextNonSpace();
    return second == '"' || second == '}';
}

}  // namespace

std::unique_ptr<Tokenizer> loadTokenizer(const std::string& path, int32_t vocabSize) {
    if (looksLikeJson(path)) return loadTokenizerJson(path);
    return loadLlama2cTokenizer(path, vocabSize);
}

}  // namespace gp
