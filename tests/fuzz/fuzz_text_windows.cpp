// libFuzzer target: text -> token stream -> windows, the path every calibration and evaluation
// text takes: text validation (UTF-8, NUL bytes, empty), tokenization with a document separator
// and BOS, and cutting into windows. Input: byte 0 the window length (0..255, so also the
// refused 0 and 1), byte 1 the separator length, then the separator, then the text.
#include <cstddef>
#include <cstdint>
#include <string>

#include <ATen/ATen.h>

#include "core/eval/perplexity.h"
#include "core/eval/token_stream.h"
#include "core/io/text_file.h"
#include "core/runtime/error.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const int64_t seqlen = data[0];
    const size_t separatorBytes = std::min<size_t>(data[1] % 8, size - 2);
    gp::TokenStreamOptions options;
    options.docSeparator.assign(reinterpret_cast<const char*>(data + 2), separatorBytes);
    options.bos = 1;
    const std::string text(reinterpret_cast<const char*>(data + 2 + separatorBytes),
                           size - 2 - separatorBytes);
    try {
        gp::validateText(text, "fuzz.txt");
        const std::vector<int32_t> ids =
            gp::tokenizeText(gp::fuzz::byteTokenizer(), text, options, "fuzz.txt");
        const at::Tensor windows = gp::cutWindows(ids, seqlen, 0, "fuzz.txt");
        if (windows.dim() != 2 || windows.size(1) != seqlen ||
            windows.size(0) != int64_t(ids.size()) / seqlen)
            __builtin_trap();
    } catch (const gp::Error& error) {
        gp::fuzz::rejected(error);
    }
    return 0;
}
