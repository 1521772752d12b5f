// The vocabulary between GGUF's tokenizer.ggml.* keys and the tokenizers we run: a GGUF's
// "llama" vocabulary becomes a tokenizer.json (sentencepiece_json.h; the id order carries the
// merge order when its scores are all equal), and a model's tokenizer becomes the
// tokenizer.ggml.* vocabulary a GGUF export writes. INTERNAL to core.
#pragma once

#include <string>

#include "core/api/session_impl.h"
#include "core/io/checkpoint.h"

namespace gp {

// tokenizer.json text for a GGUF vocabulary of model "llama"; "" for another model (the session
// then has no tokenizer unless one is given).
std::string tokenizerJsonOfVocab(const EmbeddedVocab& vocab);

// The session's tokenizer as a GGUF "llama" vocabulary: a llama2.c tokenizer with its own scores,
// a SentencePiece-style tokenizer.json with score = -merge rank. An Error (BadArgument, option
// "--format") for a model without a tokenizer or with another kind.
EmbeddedVocab ggufVocabOf(const ModelSession::Impl& session);

}  // namespace gp
