#include "core/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>

#include "core/io/atomic_file.h"
#include "core/io/mapped_file.h"
#include "core/runtime/error.h"

// safetensors stores little-endian numbers; we map them without conversion.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors needs a little-endian host");

namespace gp {
namespace {

using Json = nlohmann::ordered_json;  // keeps the header's order: entries() is file order

// The reference implementation's limit (huggingface/safetensors, MAX_HEADER_SIZE).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

struct DtypeInfo {
    const char* name;
    at::ScalarType type;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16},
    {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
    {"U8", at::kByte},    {"BOOL", at::kBool},
};

const DtypeInfo* findDtype(const std::string& name) {
    for (const DtypeInfo& info : kDtypes)
        if (name == info.name) return &info;
    return nullptr;
}

std::string supportedDtypeList() {
    std::string list;
    for (const DtypeInfo& info : kDtypes)
        list += (list.empty() ? "" : " ") + std::string(info.name);
    return list;
}

std::string describeShape(const std::vector<int64_t>& shape) {
    std::ostringstream out;
    out << '[';
    for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

uint64_t readLittleEndian64(const uint8_t* bytes) {
    uint64_t value = 0;
    std::memcpy(&value, bytes, sizeof value);
    return value;
}

// Parses the header text; a name given twice is an error (a JSON object keeps only the last).
Json parseHeaderJson(const uint8_t* text, uint64_t length, const std::string& file) {
    std::string duplicate;
    std::set<std::string> seen;
    const Json::parser_callback_t watchNames = [&](int depth, Json::parse_event_t event,
                                                   Json& parsed) {
        if (depth == 1 && event == Json::parse_event_t::key && parsed.is_string()) {
            const std::string& name = parsed.get_ref<const std::string&>();
            if (!seen.insert(name).second && duplicate.empty()) duplicate = name;
        }
        return true;
    };
    Json header;
    try {
        header = Json::parse(text, text + length, watchNames);
    } catch (const Json::exception& error) {
        throw badInput(file, "", std::string("header is not valid JSON: ") + error.what());
    }
    if (!header.is_object()) throw badInput(file, "", "header is not a JSON object");
    if (!duplicate.empty())
        throw badInput(file, duplicate, "the name appears more than once in the header");
    return header;
}

bool isNonNegativeInteger(const Json& value) {
    return value.is_number_unsigned();
}

std::vector<int64_t> readShape(const Json& value, const std::string& file,
                               const std::string& name) {
    if (!value.is_array()) throw badInput(file, name, "\"shape\" is not an array of integers");
    std::vector<int64_t> shape;
    for (const Json& size : value) {
        if (size.is_number_integer() && !size.is_number_unsigned())
            throw badInput(file, name,
                           "negative size " + std::to_string(size.get<int64_t>()) + " in shape");
        if (!isNonNegativeInteger(size))
            throw badInput(file, name, "\"shape\" is not an array of integers");
        const uint64_t dimension = size.get<uint64_t>();
        if (dimension > uint64_t(std::numeric_limits<int64_t>::max()))
            throw badInput(file, name, "absurd size " + std::to_string(dimension) + " in shape");
        shape.push_back(static_cast<int64_t>(dimension));
    }
    return shape;
}

// Bytes the shape needs, or an error when the product overflows 64 bits.
uint64_t shapeBytes(const std::vector<int64_t>& shape, size_t elementSize, const std::string& file,
                    const std::string& name) {
    uint64_t bytes = elementSize;
    for (const int64_t size : shape) {
        if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(size), &bytes))
            throw badInput(file, name,
                           "absurd shape " + describeShape(shape) + ": its size overflows 64 bits");
    }
    return bytes;
}

SafetensorsEntry readEntry(const std::string& name, const Json& value, uint64_t dataBytes,
                           const std::string& file) {
    if (!value.is_object()) throw badInput(file, name, "entry is not a JSON object");
    for (const char* key : {"dtype", "shape", "data_offsets"})
        if (!value.contains(key))
            throw badInput(file, name, std::string("entry has no \"") + key + "\"");

    SafetensorsEntry entry;
    entry.name = name;
    const Json& dtype = value["dtype"];
    if (!dtype.is_string()) throw badInput(file, name, "\"dtype\" is not a string");
    entry.dtype = dtype.get<std::string>();
    const DtypeInfo* info = findDtype(entry.dtype);
    if (!info)
        throw badInput(
            file, name,
            "unsupported dtype \"" + entry.dtype + "\" (supported: " + supportedDtypeList() + ")");
    entry.shape = readShape(value["shape"], file, name);

    const Json& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !isNonNegativeInteger(offsets[0]) ||
        !isNonNegativeInteger(offsets[1]))
        throw badInput(file, name, "\"data_offsets\" is not two non-negative integers");
    entry.begin = offsets[0].get<uint64_t>();
    entry.end = offsets[1].get<uint64_t>();
    if (entry.begin > entry.end)
        throw badInput(file, name,
                       "data_offsets begin " + std::to_string(entry.begin) + " is after end " +
                           std::to_string(entry.end));
    if (entry.end > dataBytes)
        throw badInput(file, name,
                       "data_offsets end " + std::to_string(entry.end) +
                           " is beyond the data area (" + std::to_string(dataBytes) + " bytes)");

    const size_t elementSize = c10::elementSize(info->type);
    const uint64_t needed = shapeBytes(entry.shape, elementSize, file, name);
    if (needed != entry.end - entry.begin)
        throw badInput(file, name,
                       "shape " + describeShape(entry.shape) + " x " + entry.dtype + " (" +
                           std::to_string(elementSize) + " bytes) needs " + std::to_string(needed) +
                           " bytes but data_offsets span " +
                           std::to_string(entry.end - entry.begin));
    return entry;
}

void readMetadata(const Json& value, const std::string& file,
                  std::map<std::string, std::string>* metadata) {
    if (!value.is_object())
        throw badInput(file, kMetadataKey, "is not an object mapping strings to strings");
    for (const auto& [key, text] : value.items()) {
        if (!text.is_string())
            throw badInput(file, kMetadataKey, "the value of \"" + key + "\" is not a string");
        if (metadata) (*metadata)[key] = text.get<std::string>();
    }
}

// Tensors may leave gaps (we do not require the reference writer's dense packing) but never
// share bytes: an in-place change to one would change the other.
void checkNoOverlap(const std::vector<SafetensorsEntry>& entries, const std::string& file) {
    std::vector<const SafetensorsEntry*> byBegin;
    for (const SafetensorsEntry& entry : entries)
        if (entry.end > entry.begin) byBegin.push_back(&entry);
    std::sort(byBegin.begin(), byBegin.end(),
              [](const auto* a, const auto* b) { return a->begin < b->begin; });
    for (size_t i = 1; i < byBegin.size(); ++i) {
        const SafetensorsEntry& previous = *byBegin[i - 1];
        const SafetensorsEntry& current = *byBegin[i];
        if (current.begin < previous.end)
            throw badInput(file, current.name,
                           "bytes [" + std::to_string(current.begin) + ", " +
                               std::to_string(current.end) + ") overlap tensor " + previous.name +
                               " [" + std::to_string(previous.begin) + ", " +
                               std::to_string(previous.end) + ")");
    }
}

}  // namespace

std::vector<SafetensorsEntry> parseSafetensorsHeader(const uint8_t* bytes, uint64_t size,
                                                     const std::string& fileForErrors,
                                                     std::map<std::string, std::string>* metadata) {
    const std::string& file = fileForErrors;
    if (size < 8)
        throw badInput(file, "",
                       "file is " + std::to_string(size) +
                           " bytes, shorter than the 8-byte header length of a safetensors file");
    const uint64_t headerBytes = readLittleEndian64(bytes);
    if (headerBytes >= kMaxHeaderBytes)
        throw badInput(file, "",
                       "header length " + std::to_string(headerBytes) +
                           " bytes is not below the 100 MB limit (not a safetensors file?)");
    if (headerBytes > size - 8)
        throw badInput(file, "",
                       "header length " + std::to_string(headerBytes) +
                           " bytes runs past the end of the file (" + std::to_string(size) +
                           " bytes)");
    const Json header = parseHeaderJson(bytes + 8, headerBytes, file);
    const uint64_t dataBytes = size - 8 - headerBytes;

    std::vector<SafetensorsEntry> entries;
    for (const auto& [name, value] : header.items()) {
        if (name == kMetadataKey)
            readMetadata(value, file, metadata);
        else
            entries.push_back(readEntry(name, value, dataBytes, file));
    }
    checkNoOverlap(entries, file);
    return entries;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
    std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
    file->m_path = path;
    file->m_file = MappedFile::open(path);
    file->m_entries =
        parseSafetensorsHeader(file->m_file->data(), file->m_file->size(), path, &file->m_metadata);
    file->m_dataOffset = 8 + readLittleEndian64(file->m_file->data());
    for (size_t i = 0; i < file->m_entries.size(); ++i) file->m_index[file->m_entries[i].name] = i;
    return file;
}

SafetensorsFile::~SafetensorsFile() = default;

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
    const auto found = m_index.find(name);
    return found == m_index.end() ? nullptr : &m_entries[found->second];
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
    const SafetensorsEntry* entry = find(name);
    if (!entry) throw badInput(m_path, name, "no such tensor in the file");
    return m_file->tensor(m_dataOffset + entry->begin, entry->shape,
                          safetensorsScalarType(entry->dtype));
}

bool SafetensorsFile::isMapped(const std::string& name) const {
    const SafetensorsEntry* entry = find(name);
    if (!entry) throw badInput(m_path, name, "no such tensor in the file");
    return entry->begin == entry->end ||
           m_file->isAligned(m_dataOffset + entry->begin, safetensorsScalarType(entry->dtype));
}

std::string safetensorsDtypeName(at::ScalarType dtype) {
    for (const DtypeInfo& info : kDtypes)
        if (info.type == dtype) return info.name;
    throw badArgument("dtype", std::string("safetensors cannot store ") + c10::toString(dtype) +
                                   " (supported: " + supportedDtypeList() + ")");
}

at::ScalarType safetensorsScalarType(const std::string& dtype) {
    if (const DtypeInfo* info = findDtype(dtype)) return info->type;
    throw badArgument("dtype", "unsupported safetensors dtype \"" + dtype +
                                   "\" (supported: " + supportedDtypeList() + ")");
}

namespace {

// The header JSON of `entries` stored back to back in their order (begin/end set here), padded
// with spaces to a multiple of 8 bytes as the reference writer does, so the data area (and with
// it every tensor of 8-byte elements or less) starts aligned.
std::string headerText(const std::string& path, std::vector<SafetensorsEntry>& entries,
                       const std::map<std::string, std::string>& metadata) {
    Json header = Json::object();
    if (!metadata.empty()) {
        Json& values = header[kMetadataKey];
        values = Json::object();
        for (const auto& [key, value] : metadata) values[key] = value;
    }
    uint64_t offset = 0;
    std::set<std::string> names;
    for (SafetensorsEntry& entry : entries) {
        if (entry.name.empty() || entry.name == kMetadataKey)
            throw badInput(path, entry.name, "cannot be used as a tensor name");
        if (!names.insert(entry.name).second)
            throw badInput(path, entry.name, "the name is given twice");
        uint64_t bytes = c10::elementSize(safetensorsScalarType(entry.dtype));
        for (const int64_t size : entry.shape) bytes *= uint64_t(size);
        entry.begin = offset;
        entry.end = offset + bytes;
        header[entry.name] = {{"dtype", entry.dtype},
                              {"shape", entry.shape},
                              {"data_offsets", {entry.begin, entry.end}}};
        offset = entry.end;
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const Json::exception& error) {
        throw badInput(path, "", std::string("cannot write the header: ") + error.what());
    }
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
}

std::vector<SafetensorsEntry> entriesOf(
    const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
    std::vector<SafetensorsEntry> entries;
    for (const auto& [name, tensor] : tensors) {
        if (!tensor.defined()) throw badInput(path, name, "the tensor is undefined");
        SafetensorsEntry entry;
        entry.name = name;
        try {
            entry.dtype = safetensorsDtypeName(tensor.scalar_type());
        } catch (const Error& error) {
            throw badInput(path, name, error.problem());
        }
        entry.shape = tensor.sizes().vec();
        entries.push_back(std::move(entry));
    }
    return entries;
}

void writeHeader(AtomicFile& file, const std::string& header) {
    const uint64_t headerBytes = header.size();
    file.write(&headerBytes, sizeof headerBytes);
    file.write(header.data(), header.size());
}

// One tensor at a time on the host: a model on the GPU never needs a full host copy.
void writeTensorBytes(AtomicFile& file, const at::Tensor& tensor) {
    const at::Tensor host = tensor.detach().to(at::kCPU).contiguous();
    file.write(host.data_ptr(), uint64_t(host.numel()) * host.element_size());
}

}  // namespace

void writeSafetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    std::vector<SafetensorsEntry> entries = entriesOf(path, tensors);
    const std::string header = headerText(path, entries, metadata);
    AtomicFile file(path);
    writeHeader(file, header);
    for (const auto& [name, tensor] : tensors) writeTensorBytes(file, tensor);
    file.commit();
}

SafetensorsStreamWriter::SafetensorsStreamWriter(const std::string& path,
                                                 std::vector<SafetensorsEntry> entries,
                                                 const std::map<std::string, std::string>& metadata)
    : m_entries(std::move(entries)), m_file(path) {
    writeHeader(m_file, headerText(path, m_entries, metadata));
}

void SafetensorsStreamWriter::append(const at::Tensor& tensor) {
    if (m_next >= m_entries.size())
        throw badInput(m_file.path(), "", "more tensors than the header lists");
    const SafetensorsEntry& entry = m_entries[m_next];
    if (safetensorsDtypeName(tensor.scalar_type()) != entry.dtype ||
        tensor.sizes().vec() != entry.shape)
        throw badInput(m_file.path(), entry.name,
                       "the tensor's dtype or shape differs from the header's");
    writeTensorBytes(m_file, tensor);
    ++m_next;
}

void SafetensorsStreamWriter::commit() {
    if (m_next != m_entries.size())
        throw badInput(m_file.path(), "",
                       "only " + std::to_string(m_next) + " of " +
                           std::to_string(m_entries.size()) + " tensors were written");
    m_file.commit();
}

}  // namespace gp
