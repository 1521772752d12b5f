// The folder an export writes, made safe: it never is (or holds) the model being exported, it
// does not silently replace a model already there, and it never shows half a model.
//
// Every file is first written into a staging folder beside the target ("<target>.tmp-XXXXXX", same
// file system). commit() then either renames the staging folder onto the target in one step (the
// target did not exist or was empty), or, when the target already held files (other files, or a
// model replaced with force), renames each staged file into it (each rename atomic) and removes
// the weight files of the old model that the new one does not have (model*.safetensors,
// model.safetensors.index.json, model-*.gguf and GradProbe's masks), so no stale shard, index,
// GGUF or mask remains. On failure or without
// commit() the staging folder is removed and the target is unchanged. Plain C++.
#pragma once

#include <string>
#include <vector>

namespace gp {

class ExportFolder {
public:
    // Refuses (BadArgument, option "--out") a target that is an existing file, that contains any
    // of `inputPaths` (the files the model was read from) or is one of them, or that already holds
    // a model (config.json, *.safetensors, *.bin) unless `force`. Creates the staging folder.
    ExportFolder(std::string target, const std::vector<std::string>& inputPaths, bool force);
    ~ExportFolder();

    ExportFolder(const ExportFolder&) = delete;
    ExportFolder& operator=(const ExportFolder&) = delete;

    // Where to write `fileName` now (inside the staging folder).
    std::string stagedPath(const std::string& fileName) const;
    // Where `fileName` will be after commit().
    std::string finalPath(const std::string& fileName) const;
    const std::string& target() const { return m_target; }

    // Where `fileName` (which may name a subfolder: "gradprobe/masks.safetensors") is written;
    // stagedPath() does not create subfolders. Moves the staged files and subfolders into place
    // (see above; a staged subfolder replaces the target's of that name). Returns the files'
    // paths relative to the target, sorted.
    std::vector<std::string> commit();

private:
    std::string m_target;
    std::string m_staging;
    bool m_committed = false;
};

// True when the folder holds a model GradProbe (or Hugging Face) would load: config.json, a
// *.safetensors, *.bin or *.gguf file.
bool folderHoldsModel(const std::string& folder);

}  // namespace gp
