#include "core/io/export_folder.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/runtime/error.h"

namespace gp {
namespace {

namespace fs = std::filesystem;

constexpr const char* kOption = "--out";

bool endsWith(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

fs::path absolute(const std::string& path) {
    std::error_code error;
    const fs::path resolved = fs::weakly_canonical(fs::absolute(path), error);
    return error ? fs::absolute(path).lexically_normal() : resolved;
}

// `inner` is `outer` or lies somewhere below it.
bool isWithin(const fs::path& inner, const fs::path& outer) {
    auto o = outer.begin(), i = inner.begin();
    for (; o != outer.end(); ++o, ++i) {
        if (o->empty()) continue;  // a trailing separator
        if (i == inner.end() || *i != *o) return false;
    }
    return true;
}

bool isModelFile(const fs::path& file) {
    const std::string name = file.filename().string();
    return name == "config.json" || endsWith(name, ".safetensors") || endsWith(name, ".bin") ||
           endsWith(name, ".gguf") || name == "model.safetensors.index.json";
}

// Weight files of a Hugging Face model (and GradProbe's masks, in their folder or, as earlier
// exports wrote them, beside the weights): a stale one would be read instead of, or together
// with, the new export.
bool isHfWeightFile(const std::string& name) {
    return name == "model.safetensors.index.json" || name == "gradprobe_masks.safetensors" ||
           name == "gradprobe" ||
           (name.rfind("model", 0) == 0 && (endsWith(name, ".safetensors") || endsWith(name, ".gguf")));
}

// The files under `folder`, as paths relative to it ("gradprobe/masks.safetensors"), sorted.
std::vector<std::string> filesUnder(const fs::path& folder) {
    std::vector<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(folder))
        if (entry.is_regular_file()) files.push_back(entry.path().lexically_relative(folder).string());
    std::sort(files.begin(), files.end());
    return files;
}

void syncFolder(const fs::path& folder) {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

bool isEmptyFolder(const fs::path& folder) {
    std::error_code error;
    return fs::is_directory(folder, error) && fs::directory_iterator(folder, error) ==
                                                  fs::directory_iterator();
}

}  // namespace

bool folderHoldsModel(const std::string& folder) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(folder, error))
        if (entry.is_regular_file(error) && isModelFile(entry.path())) return true;
    return false;
}

ExportFolder::ExportFolder(std::string target, const std::vector<std::string>& inputPaths,
                           bool force)
    : m_target(std::move(target)) {
    if (m_target.empty()) throw badArgument(kOption, "no output folder given");
    const fs::path out = absolute(m_target);
    std::error_code error;
    if (fs::exists(out, error) && !fs::is_directory(out, error))
        throw badArgument(kOption, m_target + " is a file; give a folder to export into");
    for (const std::string& input : inputPaths) {
        if (input.empty()) continue;
        const fs::path in = absolute(input);
        if (isWithin(in, out))
            throw badArgument(kOption, "refusing to write into " + m_target + ": it " +
                                           (in == out ? "is" : "contains") + " the input " + input +
                                           " (a run never writes over the model it read)");
    }
    if (fs::is_directory(out, error) && folderHoldsModel(out.string()) && !force)
        throw badArgument(kOption, m_target +
                                       " already holds a model; choose another folder or pass "
                                       "--force to replace it");

    const fs::path parent = out.parent_path();
    fs::create_directories(parent, error);
    if (error)
        throw badArgument(kOption, "cannot create " + parent.string() + " (" + error.message() + ")");
    std::string pattern = (parent / (out.filename().string() + ".tmp-XXXXXX")).string();
    if (!::mkdtemp(pattern.data()))
        throw badArgument(kOption, "cannot create a folder beside " + m_target + " (" +
                                       std::strerror(errno) + ")");
    m_staging = pattern;
    // mkdtemp makes the folder private (0700); the export gets the permissions any new folder
    // would (0777 less the umask).
    const mode_t mask = ::umask(0);
    ::umask(mask);
    fs::permissions(m_staging, static_cast<fs::perms>(0777 & ~mask), error);
}

ExportFolder::~ExportFolder() {
    if (m_staging.empty()) return;
    std::error_code ignored;
    fs::remove_all(m_staging, ignored);
}

std::string ExportFolder::stagedPath(const std::string& fileName) const {
    return (fs::path(m_staging) / fileName).string();
}

std::string ExportFolder::finalPath(const std::string& fileName) const {
    return (fs::path(m_target) / fileName).string();
}

std::vector<std::string> ExportFolder::commit() {
    if (m_committed || m_staging.empty())
        throw Error(ErrorKind::Internal, m_target, "", "export folder committed twice");
    std::vector<std::string> names;  // the staging folder's top level: files and subfolders
    for (const auto& entry : fs::directory_iterator(m_staging))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    const std::vector<std::string> files = filesUnder(m_staging);

    const fs::path out = absolute(m_target);
    std::error_code error;
    if (!fs::exists(out, error) || isEmptyFolder(out)) {
        fs::rename(m_staging, out, error);
        if (error)
            throw badInput(m_target, "", "cannot move the finished export into place (" +
                                             error.message() + ")");
    } else {
        for (const std::string& name : names) {
            // A staged subfolder (the masks') replaces the one there as a whole.
            if (fs::is_directory(fs::path(m_staging) / name, error)) fs::remove_all(out / name, error);
            fs::rename(fs::path(m_staging) / name, out / name, error);
            if (error)
                throw badInput((out / name).string(), "",
                               "cannot move into place (" + error.message() + ")");
        }
        const std::set<std::string> written(names.begin(), names.end());
        for (const auto& entry : fs::directory_iterator(out, error)) {
            const std::string name = entry.path().filename().string();
            if (isHfWeightFile(name) && !written.count(name)) fs::remove_all(entry.path(), error);
        }
        fs::remove_all(m_staging, error);
    }
    m_staging.clear();
    m_committed = true;
    syncFolder(out);
    syncFolder(out.parent_path());
    return files;
}

}  // namespace gp
