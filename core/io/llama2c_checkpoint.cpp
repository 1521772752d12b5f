#include "core/io/llama2c_checkpoint.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/io/atomic_file.h"
#include "core/io/mapped_file.h"
#include "core/runtime/error.h"

// The format stores native little-endian int32 and float32, as llama2.c's fread does.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "llama2.c files need a little-endian host");

namespace gp {
namespace {

constexpr uint64_t kHeaderBytes = 7 * sizeof(int32_t);
// llama2.c's later versions (v1, v2) start with the magic "ak42" and a version number.
constexpr uint32_t kVersionedMagic = 0x616b3432;

enum class SectionRole { Weight, QueryWeight, KeyWeight, RotaryReal, RotaryImag };

// One tensor in the file's order, under its Hugging Face name.
struct Section {
    std::string name;
    std::vector<int64_t> shape;
    SectionRole role = SectionRole::Weight;
    int64_t numel() const {
        int64_t n = 1;
        for (const int64_t size : shape) n *= size;
        return n;
    }
};

std::string layerName(int64_t layer, const char* suffix) {
    return "model.layers." + std::to_string(layer) + "." + suffix;
}

// The file's tensors in llama2.c's order (export.py legacy_export, run.c memory_map_weights):
// each kind of layer tensor for all layers before the next kind.
std::vector<Section> fileLayout(const Llama2cConfig& c) {
    const int64_t hs = c.headSize();
    std::vector<Section> sections;
    sections.push_back({"model.embed_tokens.weight", {c.vocabSize, c.dim}});
    const auto perLayer = [&](const char* suffix, std::vector<int64_t> shape,
                              SectionRole role = SectionRole::Weight) {
        for (int64_t layer = 0; layer < c.nLayers; ++layer)
            sections.push_back({layerName(layer, suffix), shape, role});
    };
    perLayer("input_layernorm.weight", {c.dim});
    perLayer("self_attn.q_proj.weight", {c.nHeads * hs, c.dim}, SectionRole::QueryWeight);
    perLayer("self_attn.k_proj.weight", {c.nKvHeads * hs, c.dim}, SectionRole::KeyWeight);
    perLayer("self_attn.v_proj.weight", {c.nKvHeads * hs, c.dim});
    perLayer("self_attn.o_proj.weight", {c.dim, c.nHeads * hs});
    perLayer("post_attention_layernorm.weight", {c.dim});
    perLayer("mlp.gate_proj.weight", {c.hiddenDim, c.dim});  // w1
    perLayer("mlp.down_proj.weight", {c.dim, c.hiddenDim});  // w2
    perLayer("mlp.up_proj.weight", {c.hiddenDim, c.dim});    // w3
    sections.push_back({"model.norm.weight", {c.dim}});
    sections.push_back({"freq_cis_real", {c.seqLen, hs / 2}, SectionRole::RotaryReal});
    sections.push_back({"freq_cis_imag", {c.seqLen, hs / 2}, SectionRole::RotaryImag});
    if (!c.sharedClassifier) sections.push_back({"lm_head.weight", {c.vocabSize, c.dim}});
    return sections;
}

// The file size the header implies, computed before any allocation and without overflow (a
// corrupt header may claim 2^31 layers of 2^31 x 2^31 weights).
unsigned __int128 expectedFileBytes(const Llama2cConfig& c) {
    using Wide = unsigned __int128;
    const Wide d = c.dim, hd = c.hiddenDim, hs = c.headSize(), kv = Wide(c.nKvHeads) * hs;
    const Wide q = Wide(c.nHeads) * hs;
    const Wide perLayer = d + q * d + 2 * kv * d + d * q + d + 3 * hd * d;
    Wide floats = Wide(c.vocabSize) * d + Wide(c.nLayers) * perLayer + d + Wide(c.seqLen) * hs;
    if (!c.sharedClassifier) floats += Wide(c.vocabSize) * d;
    return kHeaderBytes + 4 * floats;
}

std::string toDecimal(unsigned __int128 value) {
    std::string digits;
    do {
        digits.insert(digits.begin(), char('0' + int(value % 10)));
        value /= 10;
    } while (value > 0);
    return digits;
}

std::string describeHeader(const Llama2cConfig& c) {
    return "dim=" + std::to_string(c.dim) + " hidden_dim=" + std::to_string(c.hiddenDim) +
           " n_layers=" + std::to_string(c.nLayers) + " n_heads=" + std::to_string(c.nHeads) +
           " n_kv_heads=" + std::to_string(c.nKvHeads) +
           " vocab_size=" + (c.sharedClassifier ? "" : "-") + std::to_string(c.vocabSize) +
           " seq_len=" + std::to_string(c.seqLen);
}

std::string describeShape(at::IntArrayRef shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

Llama2cConfig readHeader(const MappedFile& file) {
    const std::string& path = file.path();
    if (file.size() < kHeaderBytes)
        throw badInput(path, "",
                       "file is " + std::to_string(file.size()) +
                           " bytes, shorter than the 28-byte llama2.c header");
    int32_t header[7];
    std::memcpy(header, file.data(), sizeof header);
    if (static_cast<uint32_t>(header[0]) == kVersionedMagic)
        throw badInput(path, "",
                       "is a llama2.c version " + std::to_string(header[1]) +
                           " file (magic \"ak42\"); only the legacy v0 format (export.py "
                           "--version 0) is read");
    Llama2cConfig config;
    config.dim = header[0];
    config.hiddenDim = header[1];
    config.nLayers = header[2];
    config.nHeads = header[3];
    config.nKvHeads = header[4];
    config.sharedClassifier = header[5] > 0;
    config.vocabSize = std::abs(int64_t(header[5]));
    config.seqLen = header[6];
    return config;
}

// The named tensor after checking it exists, is floating point and has the header's shape.
const at::Tensor& checkedTensor(const WeightMap& weights, const Section& section,
                                const std::string& path) {
    const auto found = weights.find(section.name);
    if (found == weights.end() || !found->second.defined())
        throw badInput(path, section.name, "missing: a llama2.c file needs this tensor");
    const at::Tensor& tensor = found->second;
    if (!at::isFloatingType(tensor.scalar_type()))
        throw badInput(path, section.name,
                       std::string("is ") + c10::toString(tensor.scalar_type()) +
                           "; a llama2.c file holds float weights");
    if (tensor.sizes() != at::IntArrayRef(section.shape))
        throw badInput(path, section.name,
                       "shape " + describeShape(tensor.sizes()) +
                           " but the llama2.c header needs " + describeShape(section.shape));
    return tensor;
}

at::Tensor floatTensorFor(const WeightMap& weights, const Section& section,
                          const std::string& path) {
    return checkedTensor(weights, section, path).detach().to(at::kCPU, at::kFloat).contiguous();
}

at::Tensor rotaryTableFor(const at::Tensor& given, const at::Tensor& computed,
                          const Section& section, const std::string& path) {
    if (!given.defined()) return computed;
    if (given.sizes() != at::IntArrayRef(section.shape))
        throw badInput(path, section.name,
                       "shape " + describeShape(given.sizes()) + " but the llama2.c header needs " +
                           describeShape(section.shape));
    return given.detach().to(at::kCPU, at::kFloat).contiguous();
}

void checkClassifierIsShared(const WeightMap& weights, const std::string& path) {
    const auto head = weights.find("lm_head.weight");
    const auto embedding = weights.find("model.embed_tokens.weight");
    if (head == weights.end() || embedding == weights.end()) return;
    if (head->second.sizes() == embedding->second.sizes() &&
        at::equal(head->second.detach().cpu().to(at::kFloat),
                  embedding->second.detach().cpu().to(at::kFloat)))
        return;
    throw badInput(path, "lm_head.weight",
                   "differs from model.embed_tokens.weight, but the config shares the classifier "
                   "with the embedding (positive vocab_size); export with an unshared classifier");
}

void checkPermutable(const at::Tensor& weight, int64_t heads) {
    if (weight.dim() != 2 || heads <= 0 || weight.size(0) % (2 * heads) != 0)
        throw badArgument("weight", "a q/k projection of shape " + describeShape(weight.sizes()) +
                                        " cannot be split into " + std::to_string(heads) +
                                        " heads of an even size");
}

}  // namespace

void validateLlama2cConfig(const Llama2cConfig& c, const std::string& file) {
    const std::pair<const char*, int64_t> values[] = {
        {"dim", c.dim},        {"hidden_dim", c.hiddenDim}, {"n_layers", c.nLayers},
        {"n_heads", c.nHeads}, {"n_kv_heads", c.nKvHeads},  {"vocab_size", c.vocabSize},
        {"seq_len", c.seqLen}};
    for (const auto& [key, value] : values) {
        if (value <= 0 || value > std::numeric_limits<int32_t>::max())
            throw badInput(file, key,
                           "header value " + std::to_string(value) + " must be a positive int32 (" +
                               describeHeader(c) + ")");
    }
    if (c.dim % c.nHeads != 0)
        throw badInput(file, "n_heads",
                       "n_heads=" + std::to_string(c.nHeads) +
                           " does not divide dim=" + std::to_string(c.dim));
    if (c.nHeads % c.nKvHeads != 0)
        throw badInput(file, "n_kv_heads",
                       "n_kv_heads=" + std::to_string(c.nKvHeads) +
                           " does not divide n_heads=" + std::to_string(c.nHeads));
    if (c.headSize() % 2 != 0)
        throw badInput(file, "n_heads",
                       "head size dim/n_heads=" + std::to_string(c.headSize()) +
                           " is odd; rotary embeddings rotate pairs");
}

Llama2cFile readLlama2c(const std::string& path) {
    const std::shared_ptr<MappedFile> file = MappedFile::open(path);
    Llama2cFile result;
    result.config = readHeader(*file);
    validateLlama2cConfig(result.config, path);
    const unsigned __int128 expected = expectedFileBytes(result.config);
    if (expected != file->size())
        throw badInput(path, "",
                       "file is " + std::to_string(file->size()) + " bytes but its header (" +
                           describeHeader(result.config) + ") implies " + toDecimal(expected) +
                           " bytes");

    uint64_t offset = kHeaderBytes;
    for (const Section& section : fileLayout(result.config)) {
        at::Tensor tensor = file->tensor(offset, section.shape, at::kFloat);
        offset += uint64_t(section.numel()) * sizeof(float);
        switch (section.role) {
            case SectionRole::Weight:
                result.weights[section.name] = tensor;
                break;
            case SectionRole::QueryWeight:
                result.weights[section.name] =
                    interleavedToRotateHalf(tensor, result.config.nHeads);
                break;
            case SectionRole::KeyWeight:
                result.weights[section.name] =
                    interleavedToRotateHalf(tensor, result.config.nKvHeads);
                break;
            case SectionRole::RotaryReal:
                result.freqCisReal = tensor;
                break;
            case SectionRole::RotaryImag:
                result.freqCisImag = tensor;
                break;
        }
    }
    return result;
}

std::string llama2cConfigJson(const Llama2cConfig& c) {
    nlohmann::ordered_json config;
    config["architectures"] = {"LlamaForCausalLM"};
    config["model_type"] = "llama";
    config["hidden_size"] = c.dim;
    config["intermediate_size"] = c.hiddenDim;
    config["num_hidden_layers"] = c.nLayers;
    config["num_attention_heads"] = c.nHeads;
    config["num_key_value_heads"] = c.nKvHeads;
    config["vocab_size"] = c.vocabSize;
    config["max_position_embeddings"] = c.seqLen;
    config["hidden_act"] = "silu";
    config["rms_norm_eps"] = 1e-5;  // run.c's rmsnorm
    config["rope_theta"] = 10000.0;
    config["tie_word_embeddings"] = c.sharedClassifier;
    config["bos_token_id"] = 1;
    config["eos_token_id"] = 2;
    config["torch_dtype"] = "float32";
    return config.dump(2) + "\n";
}

std::pair<at::Tensor, at::Tensor> llama2cRotaryTables(const Llama2cConfig& config) {
    const int64_t hs = config.headSize();
    const auto floats = at::TensorOptions().dtype(at::kFloat);
    // model.py: freqs = 1 / theta^(arange(0, hs, 2) / hs); angles = outer(positions, freqs).
    const at::Tensor exponents = at::arange(0, hs, 2, floats).slice(0, 0, hs / 2) / double(hs);
    const at::Tensor frequencies = 1.0 / at::pow(10000.0, exponents);
    const at::Tensor angles = at::outer(at::arange(config.seqLen, floats), frequencies);
    return {at::cos(angles), at::sin(angles)};
}

void writeLlama2c(const std::string& path, const Llama2cConfig& config, const WeightMap& weights,
                  const at::Tensor& freqCisReal, const at::Tensor& freqCisImag) {
    validateLlama2cConfig(config, path);
    if (config.sharedClassifier) checkClassifierIsShared(weights, path);
    const std::vector<Section> layout = fileLayout(config);
    const auto [computedReal, computedImag] = llama2cRotaryTables(config);
    // Every tensor is checked before the file is created, so a wrong model leaves nothing.
    for (const Section& section : layout) {
        if (section.role == SectionRole::RotaryReal)
            rotaryTableFor(freqCisReal, computedReal, section, path);
        else if (section.role == SectionRole::RotaryImag)
            rotaryTableFor(freqCisImag, computedImag, section, path);
        else
            checkedTensor(weights, section, path);
    }

    AtomicFile file(path);
    const int32_t header[7] = {
        int32_t(config.dim),
        int32_t(config.hiddenDim),
        int32_t(config.nLayers),
        int32_t(config.nHeads),
        int32_t(config.nKvHeads),
        int32_t(config.sharedClassifier ? config.vocabSize : -config.vocabSize),
        int32_t(config.seqLen)};
    file.write(header, sizeof header);
    for (const Section& section : layout) {
        at::Tensor tensor;
        switch (section.role) {
            case SectionRole::Weight:
                tensor = floatTensorFor(weights, section, path);
                break;
            case SectionRole::QueryWeight:
                tensor =
                    rotateHalfToInterleaved(floatTensorFor(weights, section, path), config.nHeads);
                break;
            case SectionRole::KeyWeight:
                tensor = rotateHalfToInterleaved(floatTensorFor(weights, section, path),
                                                 config.nKvHeads);
                break;
            case SectionRole::RotaryReal:
                tensor = rotaryTableFor(freqCisReal, computedReal, section, path);
                break;
            case SectionRole::RotaryImag:
                tensor = rotaryTableFor(freqCisImag, computedImag, section, path);
                break;
        }
        file.write(tensor.data_ptr(), uint64_t(tensor.numel()) * sizeof(float));
    }
    file.commit();
}

// HF's convert_llama_weights_to_hf permute: view(heads, hs/2, 2, in).transpose(1, 2): within a
// head, row 2i + j moves to row j * hs/2 + i.
at::Tensor interleavedToRotateHalf(const at::Tensor& weight, int64_t heads) {
    checkPermutable(weight, heads);
    const int64_t rows = weight.size(0), columns = weight.size(1);
    return weight.reshape({heads, rows / heads / 2, 2, columns})
        .transpose(1, 2)
        .reshape({rows, columns})
        .contiguous();
}

at::Tensor rotateHalfToInterleaved(const at::Tensor& weight, int64_t heads) {
    checkPermutable(weight, heads);
    const int64_t rows = weight.size(0), columns = weight.size(1);
    return weight.reshape({heads, 2, rows / heads / 2, columns})
        .transpose(1, 2)
        .reshape({rows, columns})
        .contiguous();
}

}  // namespace gp
