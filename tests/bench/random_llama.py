#!/usr/bin/env python3
"""A LLaMA/Mistral-shaped Hugging Face folder with seeded random bf16 weights, for measuring the
block-wise path at sizes the demo model cannot show (tests/bench/blockwise_table.sh).

The weights are written tensor by tensor in chunks (the script never holds a tensor), with the
demo model's tokenizer and texts beside them, so `gradprobe eval/prune` run on it as on any
checkpoint. Its perplexity means nothing (the weights are random); its memory and time do.
Python standard library only.

    tests/bench/random_llama.py --out DIR [--hidden 1024 --layers 24 --intermediate 2816
        --heads 16 --kv-heads 8 --vocab 512 --seed 0]
    tests/bench/random_llama.py --out DIR --shape mistral-7b
"""
import argparse
import json
import math
import os
import random
import shutil
import struct

SHAPES = {
    # Mistral-7B-v0.1: 32 blocks, GQA 32/8 heads, SwiGLU 14336, vocabulary 32000.
    "mistral-7b": dict(hidden=4096, layers=32, intermediate=14336, heads=32, kv_heads=8,
                       vocab=32000),
}
CHUNK = 1 << 24  # elements per write


def tensor_specs(a):
    head_dim = a.hidden // a.heads
    kv = a.kv_heads * head_dim
    specs = [("model.embed_tokens.weight", [a.vocab, a.hidden], "random")]
    for i in range(a.layers):
        p = f"model.layers.{i}."
        specs += [
            (p + "input_layernorm.weight", [a.hidden], "one"),
            (p + "self_attn.q_proj.weight", [a.hidden, a.hidden], "random"),
            (p + "self_attn.k_proj.weight", [kv, a.hidden], "random"),
            (p + "self_attn.v_proj.weight", [kv, a.hidden], "random"),
            (p + "self_attn.o_proj.weight", [a.hidden, a.hidden], "random"),
            (p + "post_attention_layernorm.weight", [a.hidden], "one"),
            (p + "mlp.gate_proj.weight", [a.intermediate, a.hidden], "random"),
            (p + "mlp.up_proj.weight", [a.intermediate, a.hidden], "random"),
            (p + "mlp.down_proj.weight", [a.hidden, a.intermediate], "random"),
        ]
    specs += [("model.norm.weight", [a.hidden], "one"),
              ("lm_head.weight", [a.vocab, a.hidden], "random")]
    return specs


def random_bf16(count, rng):
    """count bf16 values, little-endian: random sign and mantissa, magnitudes 2^-9 .. 2^-5
    (a trained layer's range); high bytes drawn through a table so no NaN or inf appears."""
    table = bytes([0x3B, 0x3C, 0x3D, 0xBB, 0xBC, 0xBD][b % 6] for b in range(256))
    out = bytearray(2 * count)
    out[0::2] = rng.randbytes(count)
    out[1::2] = rng.randbytes(count).translate(table)
    return bytes(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--shape", choices=sorted(SHAPES))
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--intermediate", type=int, default=2816)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--kv-heads", dest="kv_heads", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    if a.shape:
        for key, value in SHAPES[a.shape].items():
            setattr(a, key, value)
    demo = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "demo-model")
    os.makedirs(a.out, exist_ok=True)

    specs = tensor_specs(a)
    header, offset = {}, 0
    for name, shape, _ in specs:
        size = 2 * math.prod(shape)
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt", "generator": "tests/bench/random_llama.py"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    rng = random.Random(a.seed)
    path = os.path.join(a.out, "model.safetensors")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, shape, fill in specs:
            count = math.prod(shape)
            for start in range(0, count, CHUNK):
                n = min(CHUNK, count - start)
                f.write(b"\x80\x3f" * n if fill == "one" else random_bf16(n, rng))
    os.replace(path + ".tmp", path)

    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "hidden_size": a.hidden, "intermediate_size": a.intermediate,
              "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
              "num_key_value_heads": a.kv_heads, "vocab_size": a.vocab,
              "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
              "tie_word_embeddings": False, "bos_token_id": 511, "eos_token_id": 511,
              "hidden_act": "silu", "torch_dtype": "bfloat16"}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in ("tokenizer.json", "calibration.txt", "evaluation.txt"):
        shutil.copy(os.path.join(demo, name), os.path.join(a.out, name))
    params = sum(math.prod(shape) for _, shape, _ in specs)
    print(f"wrote {a.out}: {params:,} parameters, {offset / 1e9:.2f} GB of bf16")


if __name__ == "__main__":
    main()
