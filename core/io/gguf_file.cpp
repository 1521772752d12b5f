#include "core/io/gguf_file.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <iterator>

#include "core/io/atomic_file.h"
#include "core/io/mapped_file.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

// Bounds-checked little-endian reads over the mapped file; a record past the end names the
// file and what was being read.
class GgufCursor {
public:
    GgufCursor(const uint8_t* data, uint64_t size, const std::string& path)
        : m_data(data), m_size(size), m_path(path) {}

    template <class T>
    T read(const std::string& what) {
        need(sizeof(T), what);
        T value;
        std::memcpy(&value, m_data + m_offset, sizeof(T));
        m_offset += sizeof(T);
        return value;
    }
    std::string readString(const std::string& what) {
        const auto length = read<uint64_t>(what);
        need(length, what);
        std::string text(reinterpret_cast<const char*>(m_data + m_offset), size_t(length));
        m_offset += length;
        return text;
    }
    uint64_t offset() const { return m_offset; }

private:
    void need(uint64_t count, const std::string& what) {
        if (count > m_size - m_offset)
            throw badInput(m_path, what,
                           "file truncated: needs " + std::to_string(count) + " bytes at offset " +
                               std::to_string(m_offset) + ", the file has " +
                               std::to_string(m_size));
    }
    const uint8_t* m_data;
    uint64_t m_size;
    const std::string& m_path;
    uint64_t m_offset = 0;
};

constexpr uint64_t kMaxArrayItems = uint64_t(1) << 28;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

GgufValue readValue(GgufCursor& cursor, GgufValueType type, const std::string& key,
                    const std::string& path, int depth) {
    GgufValue value;
    value.type = type;
    switch (type) {
        case GgufValueType::Uint8: value.integer = cursor.read<uint8_t>(key); break;
        case GgufValueType::Int8: value.integer = cursor.read<int8_t>(key); break;
        case GgufValueType::Uint16: value.integer = cursor.read<uint16_t>(key); break;
        case GgufValueType::Int16: value.integer = cursor.read<int16_t>(key); break;
        case GgufValueType::Uint32: value.integer = cursor.read<uint32_t>(key); break;
        case GgufValueType::Int32: value.integer = cursor.read<int32_t>(key); break;
        case GgufValueType::Uint64:
            value.unsignedInteger = cursor.read<uint64_t>(key);
            value.integer = int64_t(value.unsignedInteger);
            break;
        case GgufValueType::Int64: value.integer = cursor.read<int64_t>(key); break;
        case GgufValueType::Float32: value.real = cursor.read<float>(key); break;
        case GgufValueType::Float64: value.real = cursor.read<double>(key); break;
        case GgufValueType::Bool: {
            const auto byte = cursor.read<uint8_t>(key);
            if (byte > 1) throw badInput(path, key, "a bool must be 0 or 1, found " + std::to_string(byte));
            value.integer = byte;
            break;
        }
        case GgufValueType::String: value.text = cursor.readString(key); break;
        case GgufValueType::Array: {
            if (depth > 0) throw badInput(path, key, "nested arrays are not read");
            const auto elementType = cursor.read<uint32_t>(key);
            const auto count = cursor.read<uint64_t>(key);
            if (elementType > uint32_t(GgufValueType::Float64))
                throw badInput(path, key, "unknown array element type " + std::to_string(elementType));
            if (count > kMaxArrayItems)
                throw badInput(path, key, "implausible array length " + std::to_string(count));
            value.elementType = GgufValueType(elementType);
            value.items.reserve(size_t(count));
            for (uint64_t i = 0; i < count; ++i)
                value.items.push_back(readValue(cursor, value.elementType, key, path, depth + 1));
            break;
        }
        default:
            throw badInput(path, key, "unknown value type " + std::to_string(uint32_t(type)));
    }
    return value;
}

// Bytes per element row of a ggml type (the data size of a tensor is numel / blockValues * bytes).
bool knownLayout(uint32_t type, int64_t* blockValues, int64_t* blockBytes) {
    switch (GgmlType(type)) {
        case GgmlType::F32: *blockValues = 1; *blockBytes = 4; return true;
        case GgmlType::F16: *blockValues = 1; *blockBytes = 2; return true;
        case GgmlType::BF16: *blockValues = 1; *blockBytes = 2; return true;
        case GgmlType::Q8_0: *blockValues = kQ8BlockValues; *blockBytes = kQ8BlockBytes; return true;
    }
    return false;
}

}  // namespace

namespace {

GgufValue scalar(GgufValueType type, int64_t integer, double real) {
    GgufValue value;
    value.type = type;
    value.integer = integer;
    value.real = real;
    return value;
}

}  // namespace

GgufValue GgufValue::u32(uint32_t v) { return scalar(GgufValueType::Uint32, v, 0.0); }
GgufValue GgufValue::i32(int32_t v) { return scalar(GgufValueType::Int32, v, 0.0); }
GgufValue GgufValue::f32(float v) { return scalar(GgufValueType::Float32, 0, v); }
GgufValue GgufValue::boolean(bool v) { return scalar(GgufValueType::Bool, v ? 1 : 0, 0.0); }
GgufValue GgufValue::string(std::string v) {
    GgufValue value;
    value.type = GgufValueType::String;
    value.text = std::move(v);
    return value;
}
GgufValue GgufValue::array(GgufValueType elementType, std::vector<GgufValue> items) {
    GgufValue value;
    value.type = GgufValueType::Array;
    value.elementType = elementType;
    value.items = std::move(items);
    return value;
}

std::vector<int64_t> GgufTensorInfo::shape() const {
    return std::vector<int64_t>(ne.rbegin(), ne.rend());
}

int64_t GgufTensorInfo::numel() const {
    int64_t count = 1;
    for (uint64_t n : ne) count *= int64_t(n);
    return count;
}

std::string ggmlTypeName(uint32_t type) {
    static const char* const kNames[] = {
        "F32",     "F16",    "Q4_0",    "Q4_1",   "Q4_2",   "Q4_3",   "Q5_0",  "Q5_1",
        "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",   "Q4_K",   "Q5_K",   "Q6_K",  "Q8_K",
        "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",  "IQ4_NL", "IQ3_S",  "IQ2_S", "IQ4_XS",
        "I8",      "I16",    "I32",     "I64",    "F64",    "IQ1_M",  "BF16",  "Q4_0_4_4",
        "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8",
        "MXFP4"};
    return type < std::size(kNames) ? kNames[type] : "type " + std::to_string(type);
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
    std::unique_ptr<GgufFile> file(new GgufFile);
    file->m_path = path;
    file->m_file = MappedFile::open(path);
    GgufCursor cursor(file->m_file->data(), file->m_file->size(), path);
    if (cursor.read<uint32_t>("magic") != kGgufMagic)
        throw badInput(path, "magic", "is not a GGUF file (it does not start with \"GGUF\")");
    file->m_version = cursor.read<uint32_t>("version");
    if (file->m_version != 2 && file->m_version != 3)
        throw badInput(path, "version", "GGUF version " + std::to_string(file->m_version) +
                                            " is not read (versions 2 and 3 are)");
    const auto tensorCount = cursor.read<uint64_t>("tensor_count");
    const auto kvCount = cursor.read<uint64_t>("metadata_kv_count");
    if (tensorCount > (uint64_t(1) << 24) || kvCount > (uint64_t(1) << 24))
        throw badInput(path, "header", "implausible counts: " + std::to_string(tensorCount) +
                                           " tensors, " + std::to_string(kvCount) + " keys");
    for (uint64_t i = 0; i < kvCount; ++i) {
        const std::string key = cursor.readString("key " + std::to_string(i));
        const auto type = cursor.read<uint32_t>(key);
        file->m_metadata.emplace_back(key, readValue(cursor, GgufValueType(type), key, path, 0));
    }
    if (const GgufValue* alignment = file->find("general.alignment")) {
        const int64_t value = alignment->integer;
        if (value <= 0 || (value & (value - 1)) != 0)
            throw badInput(path, "general.alignment", "must be a power of two, found " +
                                                          std::to_string(value));
        file->m_alignment = uint64_t(value);
    }
    for (uint64_t i = 0; i < tensorCount; ++i) {
        GgufTensorInfo info;
        info.name = cursor.readString("tensor " + std::to_string(i));
        const auto dims = cursor.read<uint32_t>(info.name);
        if (dims == 0 || dims > kMaxDims)
            throw badInput(path, info.name, std::to_string(dims) + " dimensions (1 to 4 allowed)");
        for (uint32_t d = 0; d < dims; ++d) info.ne.push_back(cursor.read<uint64_t>(info.name));
        info.type = cursor.read<uint32_t>(info.name);
        info.offset = cursor.read<uint64_t>(info.name);
        file->m_tensors.push_back(std::move(info));
    }
    const uint64_t a = file->m_alignment;
    file->m_dataOffset = (cursor.offset() + a - 1) / a * a;
    const uint64_t dataBytes =
        file->m_file->size() >= file->m_dataOffset ? file->m_file->size() - file->m_dataOffset : 0;
    for (const GgufTensorInfo& info : file->m_tensors) {
        for (uint64_t n : info.ne)
            if (n == 0 || n > (uint64_t(1) << 40))
                throw badInput(path, info.name, "implausible dimension " + std::to_string(n));
        if (info.offset % a != 0)
            throw badInput(path, info.name, "data offset " + std::to_string(info.offset) +
                                                " is not a multiple of the alignment " +
                                                std::to_string(a));
        int64_t blockValues = 0, blockBytes = 0;
        if (!knownLayout(info.type, &blockValues, &blockBytes)) continue;  // refused when read
        if (info.ne[0] % uint64_t(blockValues) != 0)
            throw badInput(path, info.name, "a " + ggmlTypeName(info.type) + " row of " +
                                                std::to_string(info.ne[0]) +
                                                " values is not whole blocks");
        const uint64_t bytes = uint64_t(info.numel() / blockValues * blockBytes);
        if (info.offset > dataBytes || bytes > dataBytes - info.offset)
            throw badInput(path, info.name, "data (" + std::to_string(bytes) + " bytes at " +
                                                std::to_string(info.offset) +
                                                ") runs past the end of the file");
    }
    return file;
}

GgufFile::~GgufFile() = default;

const GgufValue* GgufFile::find(const std::string& key) const {
    for (const auto& [name, value] : m_metadata)
        if (name == key) return &value;
    return nullptr;
}

int64_t GgufFile::integer(const std::string& key) const {
    const GgufValue* value = find(key);
    if (!value) throw badInput(m_path, key, "missing");
    if (value->type == GgufValueType::String || value->type == GgufValueType::Array ||
        value->type == GgufValueType::Float32 || value->type == GgufValueType::Float64)
        throw badInput(m_path, key, "must be an integer");
    return value->integer;
}

int64_t GgufFile::integerOr(const std::string& key, int64_t fallback) const {
    return find(key) ? integer(key) : fallback;
}

double GgufFile::real(const std::string& key) const {
    const GgufValue* value = find(key);
    if (!value) throw badInput(m_path, key, "missing");
    if (value->type == GgufValueType::Float32 || value->type == GgufValueType::Float64)
        return value->real;
    if (value->type == GgufValueType::String || value->type == GgufValueType::Array)
        throw badInput(m_path, key, "must be a number");
    return double(value->integer);
}

double GgufFile::realOr(const std::string& key, double fallback) const {
    return find(key) ? real(key) : fallback;
}

std::string GgufFile::string(const std::string& key) const {
    const GgufValue* value = find(key);
    if (!value) throw badInput(m_path, key, "missing");
    if (value->type != GgufValueType::String) throw badInput(m_path, key, "must be a string");
    return value->text;
}

at::Tensor GgufFile::tensor(const GgufTensorInfo& info) const {
    const uint64_t start = m_dataOffset + info.offset;
    const std::vector<int64_t> shape = info.shape();
    switch (GgmlType(info.type)) {
        case GgmlType::F32: return m_file->tensor(start, shape, at::kFloat);
        case GgmlType::F16: return m_file->tensor(start, shape, at::kHalf);
        case GgmlType::BF16: return m_file->tensor(start, shape, at::kBFloat16);
        case GgmlType::Q8_0: {
            const int64_t cols = int64_t(info.ne[0]), rows = info.numel() / cols;
            const at::Tensor blocks =
                m_file->tensor(start, {rows, cols / kQ8BlockValues * kQ8BlockBytes}, at::kByte);
            return dequantizeQ8_0(blocks, rows, cols).reshape(shape);
        }
    }
    throw badInput(m_path, info.name,
                   "is stored as " + ggmlTypeName(info.type) +
                       ", which GradProbe does not read: F32, F16, BF16 and Q8_0 are read "
                       "(re-quantize the model from its original weights, or convert it with "
                       "llama.cpp's llama-quantize to Q8_0)");
}

at::Tensor quantizeQ8_0(const at::Tensor& values) {
    const int64_t rows = values.size(0), cols = values.size(1);
    const at::Tensor blocks = values.to(at::kFloat).contiguous().reshape({rows, cols / kQ8BlockValues, kQ8BlockValues});
    const at::Tensor amax = blocks.abs().amax(-1, true);
    const at::Tensor d = amax / 127.0f;
    const at::Tensor inverse = at::where(d.eq(0), at::zeros_like(d), d.reciprocal());
    const at::Tensor scaled = blocks * inverse;
    // roundf: half away from zero (at::round rounds half to even). The fraction after trunc is
    // exact in float, so exact halves are found and moved away from zero.
    const at::Tensor whole = scaled.trunc();
    const at::Tensor q =
        (whole + at::where((scaled - whole).abs() >= 0.5f, scaled.sign(), at::zeros_like(scaled)))
            .to(at::kChar);
    const at::Tensor dBytes = d.to(at::kHalf).contiguous().view(at::kByte);  // [rows, blocks, 2]
    return at::cat({dBytes, q.view(at::kByte)}, -1).reshape({rows, cols / kQ8BlockValues * kQ8BlockBytes});
}

at::Tensor dequantizeQ8_0(const at::Tensor& blocks, int64_t rows, int64_t cols) {
    const at::Tensor grouped = blocks.reshape({rows, cols / kQ8BlockValues, kQ8BlockBytes});
    const at::Tensor d = grouped.slice(-1, 0, 2).contiguous().view(at::kHalf).to(at::kFloat);
    const at::Tensor q = grouped.slice(-1, 2, kQ8BlockBytes).contiguous().view(at::kChar).to(at::kFloat);
    return (q * d).reshape({rows, cols});
}

void writeGguf(const std::string& path, const std::vector<std::pair<std::string, GgufValue>>& kvs,
               const std::vector<GgufTensorOut>& tensors, uint64_t alignment) {
    std::string header;
    const auto put = [&](const void* data, size_t bytes) {
        header.append(static_cast<const char*>(data), bytes);
    };
    const auto putU32 = [&](uint32_t v) { put(&v, 4); };
    const auto putU64 = [&](uint64_t v) { put(&v, 8); };
    const auto putString = [&](const std::string& s) {
        putU64(s.size());
        header += s;
    };
    std::function<void(const GgufValue&, GgufValueType)> putValue = [&](const GgufValue& v,
                                                                       GgufValueType type) {
        switch (type) {
            case GgufValueType::Uint8: case GgufValueType::Int8: case GgufValueType::Bool: {
                const auto byte = uint8_t(v.integer);
                put(&byte, 1);
                break;
            }
            case GgufValueType::Uint16: case GgufValueType::Int16: {
                const auto half = uint16_t(v.integer);
                put(&half, 2);
                break;
            }
            case GgufValueType::Uint32: case GgufValueType::Int32: putU32(uint32_t(v.integer)); break;
            case GgufValueType::Uint64: case GgufValueType::Int64: putU64(uint64_t(v.integer)); break;
            case GgufValueType::Float32: {
                const auto f = float(v.real);
                put(&f, 4);
                break;
            }
            case GgufValueType::Float64: put(&v.real, 8); break;
            case GgufValueType::String: putString(v.text); break;
            case GgufValueType::Array:
                putU32(uint32_t(v.elementType));
                putU64(v.items.size());
                for (const GgufValue& item : v.items) putValue(item, v.elementType);
                break;
        }
    };
    std::vector<std::pair<std::string, GgufValue>> all = kvs;
    if (alignment != kGgufDefaultAlignment)
        all.emplace_back("general.alignment", GgufValue::u32(uint32_t(alignment)));
    putU32(kGgufMagic);
    putU32(kGgufVersion);
    putU64(tensors.size());
    putU64(all.size());
    for (const auto& [key, value] : all) {
        putString(key);
        putU32(uint32_t(value.type));
        putValue(value, value.type);
    }
    const auto padded = [&](uint64_t n) { return (n + alignment - 1) / alignment * alignment; };
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (const GgufTensorOut& tensor : tensors) {
        putString(tensor.name);
        putU32(uint32_t(tensor.shape.size()));
        for (auto it = tensor.shape.rbegin(); it != tensor.shape.rend(); ++it) putU64(uint64_t(*it));
        putU32(uint32_t(tensor.type));
        putU64(offset);
        offsets.push_back(offset);
        offset = padded(offset + uint64_t(tensor.bytes.nbytes()));
    }
    header.resize(padded(header.size()), '\0');
    AtomicFile file(path);
    file.write(header.data(), header.size());
    const std::string zeros(alignment, '\0');
    uint64_t written = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const at::Tensor bytes = tensors[i].bytes.cpu().contiguous();
        file.write(bytes.data_ptr(), size_t(bytes.nbytes()));
        written = offsets[i] + uint64_t(bytes.nbytes());
        const uint64_t next = padded(written);
        file.write(zeros.data(), size_t(next - written));  // as gguf-py: after every tensor
    }
    file.commit();
}

}  // namespace gp
