// Text <-> token ids. Plain C++ (PCRE2 inside, no LibTorch), so the GUI may use it too.
// A Tokenizer is immutable once loaded: encode/decode may be called from several threads.
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
    // tokenizer.json tokenizers need UTF-8 text (gp::Error BadInput, object "text", otherwise).
    virtual std::vector<int32_t> encode(std::string_view text) const = 0;
    // Decodes ids back to text (special tokens included as their text). Ids without a piece are
    // skipped. Bytes that do not form valid UTF-8 (ids cut inside a character) are returned as
    // they are, so decoding ids one by one and concatenating equals decoding them at once.
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
// BOS/EOS: the special tokens around $A in the post_processor's TemplateProcessing, else the
// first present of "<s>", "<|begin_of_text|>", "<|endoftext|>" (BOS) and "</s>",
// "<|end_of_text|>", "<|endoftext|>" (EOS).
std::unique_ptr<Tokenizer> loadTokenizerJson(const std::string& path);
// The same from the file's text; `source` names it in errors.
std::unique_ptr<Tokenizer> tokenizerFromJsonText(const std::string& jsonText,
                                                 const std::string& source);

// llama2.c tokenizer.bin: uint32 max_token_length, then per piece float32 score, int32 length,
// bytes. BPE by merge score, byte fallback, BOS = 1, EOS = 2 (as llama2.c's run.c). The file must
// hold exactly vocabSize pieces; vocabSize <= 0 takes as many as it holds.
std::unique_ptr<Tokenizer> loadLlama2cTokenizer(const std::string& path, int32_t vocabSize);

// Picks by file: *.json (or content starting with '{') -> loadTokenizerJson, otherwise
// llama2.c (vocabSize from the model).
std::unique_ptr<Tokenizer> loadTokenizer(const std::string& path, int32_t vocabSize);

}  // namespace gp
