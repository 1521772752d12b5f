#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: corpus/<target>/valid_* (small files the engine
accepts, built here from tiny real structures) and broken_* (one defect each). Run from anywhere;
the files are committed, so this is only needed to change them:  python3 tests/fuzz/make_corpus.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


# ---- safetensors ----
def safetensors(header, data, pad=True):
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


f32 = struct.pack("<6f", 0.5, -1.0, 2.0, 0.0, 3.25, -0.125)
write("safetensors_header", "valid_two_tensors",
      safetensors({"__metadata__": {"format": "pt"}, "a": entry("F32", [2, 3], 0, 24),
                   "b": entry("BF16", [4], 24, 32)}, f32 + b"\x80\x3f" * 4))
write("safetensors_header", "valid_every_dtype",
      safetensors({name: entry(name, [1], i * 8, i * 8 + size) for i, (name, size) in enumerate(
          [("F64", 8), ("F32", 4), ("F16", 2), ("BF16", 2), ("I64", 8), ("I32", 4), ("I16", 2),
           ("I8", 1), ("U8", 1), ("BOOL", 1)])}, b"\0" * 80))
write("safetensors_header", "valid_empty_header", safetensors({}, b""))
write("safetensors_header", "valid_scalar_and_empty",
      safetensors({"s": entry("F32", [], 0, 4), "e": entry("F32", [0, 5], 4, 4)}, b"\0" * 4))
write("safetensors_header", "valid_gap_between_tensors",
      safetensors({"a": entry("I8", [2], 0, 2), "b": entry("I8", [2], 6, 8)}, b"\1" * 8))
write("safetensors_header", "broken_overlap",
      safetensors({"a": entry("F32", [4], 0, 16), "b": entry("F32", [4], 8, 24)}, b"\0" * 24))
write("safetensors_header", "broken_span",
      safetensors({"a": entry("F32", [3], 0, 16)}, b"\0" * 16))
write("safetensors_header", "broken_beyond_data",
      safetensors({"a": entry("F32", [1024], 0, 4096)}, b"\0" * 16))
write("safetensors_header", "broken_dtype", safetensors({"a": entry("Q4", [2], 0, 8)}, b"\0" * 8))
write("safetensors_header", "broken_negative_shape",
      safetensors({"a": entry("F32", [-4], 0, 16)}, b"\0" * 16))
write("safetensors_header", "broken_overflow_shape",
      safetensors({"a": entry("F64", [2 ** 32, 2 ** 32], 0, 0)}, b""))
write("safetensors_header", "broken_header_length", struct.pack("<Q", 100_000_001) + b"{}")
write("safetensors_header", "broken_header_past_end", struct.pack("<Q", 64) + b"{}")
write("safetensors_header", "broken_duplicate",
      struct.pack("<Q", 94) + b'{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},'
      b'"a":{"dtype":"I8","shape":[1],"data_offsets":[1,2]}}\0\0')
write("safetensors_header", "broken_metadata", safetensors({"__metadata__": {"k": 1}}, b""))
write("safetensors_header", "broken_short", b"\x02\0\0")

# ---- config.json ----
llama = {"model_type": "llama", "vocab_size": 23, "hidden_size": 16, "intermediate_size": 24,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
         "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": [2, 3]}
write("model_config", "valid_llama", json.dumps(llama, indent=2))
write("model_config", "valid_mistral",
      json.dumps(dict(llama, model_type="mistral", sliding_window=4,
                      rope_scaling={"type": "linear", "factor": 2.0})))
write("model_config", "valid_gpt_neo", json.dumps(
    {"model_type": "gpt_neo", "vocab_size": 23, "hidden_size": 16, "num_layers": 2,
     "num_heads": 4, "intermediate_size": 32, "max_position_embeddings": 32, "window_size": 3,
     "attention_types": [[["global", "local"], 1]], "activation_function": "gelu_new"}))
write("model_config", "valid_gpt2", json.dumps(
    {"model_type": "gpt2", "vocab_size": 23, "n_embd": 16, "n_layer": 2, "n_head": 4,
     "n_positions": 32, "layer_norm_epsilon": 1e-5, "scale_attn_by_inverse_layer_idx": True}))
write("model_config", "valid_mlp", json.dumps(
    {"model_type": "mlp", "vocab_size": 23, "hidden_size": 16, "intermediate_size": 24,
     "num_hidden_layers": 2}))
with open(os.path.join(HERE, "..", "..", "resources", "demo-model", "config.json"), "rb") as demo:
    write("model_config", "valid_demo_model", demo.read())
write("model_config", "broken_json", '{"model_type": "llama",,}')
write("model_config", "broken_type", json.dumps(dict(llama, model_type="bert")))
write("model_config", "broken_heads", json.dumps(dict(llama, num_key_value_heads=3)))
write("model_config", "broken_rope", json.dumps(dict(llama, rope_scaling={"type": "yarn"})))
write("model_config", "broken_attention_types", json.dumps(
    {"model_type": "gpt_neo", "vocab_size": 23, "hidden_size": 16, "num_layers": 3,
     "num_heads": 4, "attention_types": [[["global", "sparse"], 2]]}))
# Regression (found by fuzz_model_config): a number too big for a double escaped as
# nlohmann's out_of_range instead of a gp::Error.
write("model_config", "broken_number_overflow", '{"model_type": "llama", "vocab_size": 1e400}')
write("model_config", "broken_sizes", json.dumps(dict(llama, hidden_size=-16, vocab_size=1.5)))

# ---- tokenizer.json ----
byte_level = {
    "version": "1.0",
    "added_tokens": [{"id": 9, "content": "<|endoftext|>", "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                      "use_regex": True},
    "post_processor": {"type": "ByteLevel"},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "\u0120": 3, "ab": 4, "\u0120a": 5,
                                       "t": 6, "h": 7, "e": 8, "<|endoftext|>": 9, "th": 10,
                                       "the": 11},
              "merges": ["a b", "\u0120 a", "t h", "th e"]},
}
write("tokenizer_json", "valid_byte_level", json.dumps(byte_level) + "\0the cab ab<|endoftext|>a")
sentencepiece = {
    "added_tokens": [{"id": 0, "content": "<unk>", "special": True},
                     {"id": 1, "content": "<s>", "special": True},
                     {"id": 2, "content": "</s>", "special": True}],
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": None,
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                  {"Sequence": {"id": "A", "type_id": 0}}],
                       "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True,
              "vocab": dict({"<unk>": 0, "<s>": 1, "</s>": 2},
                            **{"<0x%02X>" % b: 3 + b for b in range(256)},
                            **{"\u2581": 259, "a": 260, "b": 261, "\u2581a": 262, "ab": 263}),
              "merges": [["\u2581", "a"], ["a", "b"]]},
}
# Regression: a tokenizer.json without "added_tokens" crashed on encode (found by the replay).
write("tokenizer_json", "valid_no_added_tokens",
      json.dumps({k: v for k, v in byte_level.items() if k != "added_tokens"}) + "\0the cab")
write("tokenizer_json", "valid_sentencepiece",
      json.dumps(sentencepiece) + "\0ab a \u00fc\U0001F431 b")
write("tokenizer_json", "valid_metaspace_split", json.dumps(dict(
    byte_level, pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated", "invert": False},
        {"type": "Digits", "individual_digits": True},
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"}]},
    decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"})))
with open(os.path.join(HERE, "..", "..", "resources", "demo-model", "tokenizer.json"), "rb") as demo:
    write("tokenizer_json", "valid_demo_model", demo.read())
write("tokenizer_json", "broken_json", '{"model": {')
write("tokenizer_json", "broken_model_type", json.dumps({"model": {"type": "WordPiece"}}))
write("tokenizer_json", "broken_regex", json.dumps(dict(
    byte_level, pre_tokenizer={"type": "Split", "pattern": {"Regex": "(("},
                               "behavior": "Isolated"})))
write("tokenizer_json", "broken_merge", json.dumps(
    {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a z"]}}))
write("tokenizer_json", "broken_number_overflow", '{"model": {"type": "BPE", "vocab": {"a": 1e400}}}')
# Regression (found by fuzz_tokenizer_json): one id near 2^31 made the loader allocate a table of
# 2^31 pieces (tens of GB).
write("tokenizer_json", "broken_huge_id", json.dumps(
    {"model": {"type": "BPE", "vocab": {"a": 0, "th": 1022222222}, "merges": []}}))
write("tokenizer_json", "broken_added_id", json.dumps(dict(
    byte_level, added_tokens=[{"id": -1, "content": "x"}])))


# ---- llama2.c tokenizer.bin (first byte: the model's vocabulary size, see the target) ----
def llama2c_tokenizer(extra, max_length=8):
    pieces = ["<unk>", "\n<s>\n", "\n</s>\n"] + ["<0x%02X>" % b for b in range(256)] + extra
    data = struct.pack("<I", max_length)
    for i, piece in enumerate(pieces):
        raw = piece.encode()
        data += struct.pack("<fi", -float(i) if i >= 259 else 0.0, len(raw)) + raw
    return data, len(pieces)


extra = [" ", "a", "t", "h", "e", "th", "the", " the", " a", "ce", "\u00e9"]
tok, count = llama2c_tokenizer(extra)
write("llama2c_tokenizer", "valid_all_pieces", b"\0" + tok)
write("llama2c_tokenizer", "valid_exact_vocab", bytes([count - 256]) + tok)
write("llama2c_tokenizer", "broken_more_pieces", bytes([count - 256 - 2]) + tok)
write("llama2c_tokenizer", "broken_fewer_pieces", bytes([count - 256 + 5]) + tok)
write("llama2c_tokenizer", "broken_truncated", b"\0" + tok[:-3])
write("llama2c_tokenizer", "broken_max_length", b"\0" + struct.pack("<I", 0) + tok[4:])
write("llama2c_tokenizer", "broken_long_piece", b"\0" + llama2c_tokenizer(["abcdefghij"])[0])
write("llama2c_tokenizer", "broken_nan_score",
      b"\0" + tok[:4] + struct.pack("<f", float("nan")) + tok[8:])


# ---- llama2.c checkpoint (.bin, legacy v0) ----
def llama2c_checkpoint(dim, hidden, layers, heads, kv_heads, vocab, seq_len, shared=True):
    head = dim // heads
    floats = vocab * dim + layers * (dim + heads * head * dim + 2 * kv_heads * head * dim +
                                     dim * heads * head + dim + 3 * hidden * dim) + dim + \
        seq_len * head
    if not shared:
        floats += vocab * dim
    header = struct.pack("<7i", dim, hidden, layers, heads, kv_heads,
                         vocab if shared else -vocab, seq_len)
    values = b"".join(struct.pack("<f", ((i * 37) % 19 - 9) / 10.0) for i in range(floats))
    return header + values


valid = llama2c_checkpoint(4, 6, 1, 2, 1, 8, 4)
write("llama2c_checkpoint", "valid_shared", valid)
write("llama2c_checkpoint", "valid_unshared_gqa", llama2c_checkpoint(8, 4, 2, 2, 1, 5, 3, False))
write("llama2c_checkpoint", "broken_truncated", valid[:-4])
write("llama2c_checkpoint", "broken_header_only", valid[:20])
write("llama2c_checkpoint", "broken_lying_dim", struct.pack("<i", 8) + valid[4:])
write("llama2c_checkpoint", "broken_heads", valid[:12] + struct.pack("<i", 3) + valid[16:])
write("llama2c_checkpoint", "broken_versioned", struct.pack("<Ii", 0x616b3432, 2) + b"\0" * 248)
write("llama2c_checkpoint", "broken_huge_dims",
      struct.pack("<7i", 2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1, 2, 1, -(2 ** 31 - 1), 2 ** 31 - 1))
write("llama2c_checkpoint", "broken_negative", struct.pack("<7i", 4, 6, -1, 2, 1, 8, 4))


# ---- text -> windows (byte 0: window length, byte 1: separator length, separator, text) ----
def text_input(seqlen, separator, text):
    raw = separator.encode()
    return bytes([seqlen, len(raw)]) + raw + (text.encode() if isinstance(text, str) else text)


story = ("Once upon a time, there was a little cat named Tom. Tom liked to play in the sun.\n"
         "One day, Tom saw a big dog. The dog was sad. Tom said, \"Do not be sad!\"\n")
write("text_windows", "valid_story", text_input(8, "", story))
write("text_windows", "valid_documents",
      text_input(5, "<|endoftext|>", story + "<|endoftext|>\n" + story + "<|endoftext|>"))
write("text_windows", "valid_unicode", text_input(3, "", "L\u00e9o \u00e9tait l\u00e0. "
                                                         "\U0001F431 \u732b \u2581the"))
write("text_windows", "valid_byte_order_mark", text_input(2, "\n", "\ufeffthe a\nthe b\n\n"))
write("text_windows", "broken_seqlen_one", text_input(1, "", story))
write("text_windows", "broken_seqlen_zero", text_input(0, "", story))
write("text_windows", "broken_too_short", text_input(200, "", "the end"))
write("text_windows", "broken_only_separators", text_input(4, "##", "## ##\n##"))
write("text_windows", "broken_nul", text_input(4, "", b"the\0cat"))
write("text_windows", "broken_latin1", text_input(4, "", b"caf\xe9 cr\xe8me"))
write("text_windows", "broken_surrogate", text_input(4, "", b"a\xed\xa0\x80b"))
write("text_windows", "broken_empty", text_input(4, "", b""))


# ---- a whole model folder: config.json, model.safetensors, tokenizer.json separated by "====" ----
def tiny_llama_folder(config_overrides=None, pad=True, tokenizer=None, weights=None):
    d, inter, vocab = 8, 16, 16
    config = {"model_type": "llama", "vocab_size": vocab, "hidden_size": d,
              "intermediate_size": inter, "num_hidden_layers": 1, "num_attention_heads": 2,
              "num_key_value_heads": 1, "max_position_embeddings": 16, "rms_norm_eps": 1e-5,
              "tie_word_embeddings": True}
    config.update(config_overrides or {})
    shapes = [("model.embed_tokens.weight", [vocab, d]),
              ("model.layers.0.input_layernorm.weight", [d]),
              ("model.layers.0.self_attn.q_proj.weight", [d, d]),
              ("model.layers.0.self_attn.k_proj.weight", [4, d]),
              ("model.layers.0.self_attn.v_proj.weight", [4, d]),
              ("model.layers.0.self_attn.o_proj.weight", [d, d]),
              ("model.layers.0.post_attention_layernorm.weight", [d]),
              ("model.layers.0.mlp.gate_proj.weight", [inter, d]),
              ("model.layers.0.mlp.up_proj.weight", [inter, d]),
              ("model.layers.0.mlp.down_proj.weight", [d, inter]),
              ("model.norm.weight", [d])]
    header, data = {}, b""
    for index, (name, shape) in enumerate(shapes):
        count = 1
        for size in shape:
            count *= size
        values = [((index * 7 + i * 13) % 17 - 8) / 16.0 for i in range(count)]
        header[name] = entry("F32", shape, len(data), len(data) + 4 * count)
        data += struct.pack("<%df" % count, *values)
    text = json.dumps(header, separators=(",", ":")).encode()
    # pad=False: the data area starts 1 byte off a 4-byte boundary (unaligned, copied on load).
    text += b" " * (((8 - len(text) % 8) % 8) if pad else ((5 - len(text)) % 4))
    body = weights if weights is not None else struct.pack("<Q", len(text)) + text + data
    parts = [json.dumps(config).encode(), body, json.dumps(tokenizer or byte_level).encode()]
    return b"\n====\n".join(parts)


write("model_folder", "valid_tiny_llama", tiny_llama_folder())
write("model_folder", "valid_unaligned_data", tiny_llama_folder(pad=False))
write("model_folder", "broken_shapes_disagree", tiny_llama_folder({"hidden_size": 16}))
write("model_folder", "broken_tokenizer_beyond_vocab",
      tiny_llama_folder({"vocab_size": 8}))
write("model_folder", "broken_weights_truncated", tiny_llama_folder(weights=b"\x40\0\0\0\0\0\0\0{}"))
write("model_folder", "broken_config_only", json.dumps({"model_type": "llama"}))

# ---- report.json (run_record) ----
# corpus/run_record/valid_demo_run is a real report.json of `gradprobe prune` on the demo model
# with every list cut to two items (written by hand, not here: it needs the engine); broken_*
# are edits of it (truncated, unknown schema, wrong types); valid_model_defaults has an
# empty "model" (every field defaulted).
