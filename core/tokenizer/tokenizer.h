// Text <-> token ids. Plain C++ (PCRE2 inside, no LibTorch), so the GUI may use it too.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gp {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // Encodes text without adding BOS/EOS. Added/special tokens written literally in the text
    // (e.g. "<|endoftext|>") become their ids, as Hugging Face tokenizers do.
    virtual std::vector<int32_t> encode(std::string_view text) const = 0;
    // Decodes ids back to text (special tokens included as their text).
    virtual std::string decode(const std::vector<int32_t>& ids) const = 0;

    virtual int32_t vocabSize() const = 0;
    virtual std::optional<int32_t> bosId() const = 0;
    virtual std::optional<int32_t> eosId() const = 0;
    // Id of a vocabulary piece or added token given by its text form, if present.
    virtual std::optional<int32_t> pieceId(std::string_view piece) const = 0;
    // The vocabulary text of an id (as stored, e.g. "Ġthe" or "▁the"); "" if out of range.
    virtual std::string piece(int32_t id) const = 0;
};

// Hugging Face tokenizer.json (model type BPE): byte-level (GPT-2, GPT-Neo) or SentencePiece
// style (LLaMA, Mistral). An Error naming the file and the key for anything unsupported.
std::unique_ptr<Tokenizer> loadTokenizerJson(const std::string& path);

// llama2.c tokenizer.bin: uint32 max_token_length, then per piece float32 score, int32 length,
// bytes. BPE by merge score, byte fallback, BOS = 1, EOS = 2 (as llama2.c's run.c).
std::unique_ptr<Tokenizer> loadLlama2cTokenizer(const std::string& path, int32_t vocabSize);

// Picks by file: *.json -> loadTokenizerJson, otherwise llama2.c (vocabSize from the model).
std::unique_ptr<Tokenizer> loadTokenizer(const std::string& path, int32_t vocabSize);

}  // namespace gp
