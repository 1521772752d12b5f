// GGUF v3, llama.cpp's model file (ggml's docs/gguf.md; gguf-py's constants.py and
// gguf_writer.py): the container, read and written, and the tensor encodings we take.
//
//   header   "GGUF" (uint32 0x46554747), uint32 version (3), uint64 tensor count, uint64 KV count
//   KVs      string key, uint32 value type, value       (strings: uint64 length + UTF-8 bytes;
//            arrays: uint32 element type, uint64 count, elements)
//   tensors  string name, uint32 n_dims, uint64 ne[n_dims] (ne[0] varies fastest: a [rows, cols]
//            matrix is ne = {cols, rows}), uint32 ggml type, uint64 offset (from the data start)
//   padding  to general.alignment (default 32); the data section; each tensor's offset is a
//            multiple of the alignment.
// Tensor types read: F32 (0), F16 (1), BF16 (30), Q8_0 (8: blocks of 32 values, an fp16 scale d
// then 32 int8 q; value = d * q). Other ggml types (K-quants and the rest) are refused by name.
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace gp {

class MappedFile;

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kGgufVersion = 3;
constexpr uint64_t kGgufDefaultAlignment = 32;

enum class GgufValueType : uint32_t {
    Uint8 = 0, Int8 = 1, Uint16 = 2, Int16 = 3, Uint32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, Uint64 = 10, Int64 = 11, Float64 = 12
};

enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30 };
constexpr int64_t kQ8BlockValues = 32;  // QK8_0
constexpr int64_t kQ8BlockBytes = 34;   // fp16 scale + 32 int8

// A metadata value: a scalar (kept in its widest form with its declared type), a string, or an
// array of one element type.
struct GgufValue {
    GgufValueType type = GgufValueType::Uint32;
    GgufValueType elementType = GgufValueType::Uint32;  // arrays only
    int64_t integer = 0;           // Uint8..Int64 and Bool
    uint64_t unsignedInteger = 0;  // Uint64 (and every unsigned type, for writing)
    double real = 0.0;             // Float32 / Float64
    std::string text;              // String
    std::vector<GgufValue> items;  // Array

    static GgufValue u32(uint32_t v);
    static GgufValue i32(int32_t v);
    static GgufValue f32(float v);
    static GgufValue boolean(bool v);
    static GgufValue string(std::string v);
    static GgufValue array(GgufValueType elementType, std::vector<GgufValue> items);
};

struct GgufTensorInfo {
    std::string name;
    std::vector<uint64_t> ne;  // ggml order: ne[0] fastest
    uint32_t type = 0;         // ggml type id
    uint64_t offset = 0;       // from the data start
    std::vector<int64_t> shape() const;  // torch order (ne reversed)
    int64_t numel() const;
};

class GgufFile {
public:
    // Maps and validates: magic, version 2 or 3, every KV and tensor record inside the file,
    // known value types, tensor data inside the file and aligned. Errors (BadInput) name the
    // file and the key or tensor.
    static std::unique_ptr<GgufFile> open(const std::string& path);
    ~GgufFile();

    const std::string& path() const { return m_path; }
    uint32_t version() const { return m_version; }
    uint64_t alignment() const { return m_alignment; }
    uint64_t dataOffset() const { return m_dataOffset; }
    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return m_metadata; }
    const std::vector<GgufTensorInfo>& tensors() const { return m_tensors; }

    const GgufValue* find(const std::string& key) const;
    // Typed look-ups; an Error (BadInput) naming the key when absent or of another kind.
    int64_t integer(const std::string& key) const;
    int64_t integerOr(const std::string& key, int64_t fallback) const;
    double real(const std::string& key) const;
    double realOr(const std::string& key, double fallback) const;
    std::string string(const std::string& key) const;

    // The tensor's values: F32/F16/BF16 as stored (over the mapping), Q8_0 dequantised to
    // float32. Any other type is an Error naming the tensor and the type.
    at::Tensor tensor(const GgufTensorInfo& info) const;

private:
    GgufFile() = default;
    std::string m_path;
    std::shared_ptr<MappedFile> m_file;
    uint32_t m_version = 0;
    uint64_t m_alignment = kGgufDefaultAlignment;
    uint64_t m_dataOffset = 0;
    std::vector<std::pair<std::string, GgufValue>> m_metadata;
    std::vector<GgufTensorInfo> m_tensors;
};

// The ggml type's name ("Q4_K", "IQ2_XS", ...; "type N" when unknown), for messages.
std::string ggmlTypeName(uint32_t type);

// Q8_0 as ggml's quantize_row_q8_0_ref: per block of 32, d = max|x| / 127, q = round(x / d)
// (half away from zero; 0 when d = 0), d stored as fp16. `values` is float32 [rows, cols] with
// cols % 32 == 0; returns the blocks, uint8 [rows, cols / 32 * 34].
at::Tensor quantizeQ8_0(const at::Tensor& values);
// Back to float32 [rows, cols] (value = fp16 d * q).
at::Tensor dequantizeQ8_0(const at::Tensor& blocks, int64_t rows, int64_t cols);

// One tensor to write: its name, ggml type and bytes (F32/F16/BF16 values or Q8_0 blocks),
// shape in torch order.
struct GgufTensorOut {
    std::string name;
    GgmlType type = GgmlType::F32;
    std::vector<int64_t> shape;
    at::Tensor bytes;  // contiguous CPU tensor holding exactly the encoded data
};

// Writes a GGUF v3 file atomically (temporary file, rename): the KVs in order, the tensor infos,
// then the data, every tensor at a multiple of `alignment` (general.alignment is written when it
// is not the default 32). An Error naming the path on failure.
void writeGguf(const std::string& path, const std::vector<std::pair<std::string, GgufValue>>& kvs,
               const std::vector<GgufTensorOut>& tensors,
               uint64_t alignment = kGgufDefaultAlignment);

}  // namespace gp
