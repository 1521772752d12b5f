// Shared by the fuzz targets: how a target reports that the engine refused an input, and a small
// in-memory tokenizer for the targets that fuzz text rather than a vocabulary.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/runtime/error.h"
#include "core/tokenizer/llama2c_tokenizer.h"

namespace gp::fuzz {

// Called with the message when the engine refuses an input with a gp::Error (the expected
// answer to a malformed file). Empty under libFuzzer; the replay driver sets it to check that
// the corpus's valid_* seeds are accepted.
inline std::function<void(const std::string&)>& rejectionHook() {
    static std::function<void(const std::string&)> hook;
    return hook;
}

inline void rejected(const gp::Error& error) {
    if (rejectionHook()) rejectionHook()(error.what());
}

// <unk>, <s>, </s>, the 256 byte pieces and a few merges, so multi-byte text exercises both
// merging and byte fallback.
inline const Tokenizer& byteTokenizer() {
    static const Llama2cTokenizer tokenizer = [] {
        std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
        for (int byte = 0; byte < 256; ++byte) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", byte);
            pieces.emplace_back(name);
        }
        std::vector<float> scores(pieces.size(), 0.0f);
        float score = -1.0f;
        for (const char* piece : {" ", "e", "t", "h", "a", "o", "n", "th", "the", " the", " a",
                                  "an", " an", "on", "\xC3\xA9"}) {
            pieces.emplace_back(piece);
            scores.push_back(score);
            score -= 1.0f;
        }
        return Llama2cTokenizer(std::move(pieces), std::move(scores), 8);
    }();
    return tokenizer;
}

}  // namespace gp::fuzz
