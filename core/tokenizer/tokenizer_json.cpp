// Reads a Hugging Face tokenizer.json into a BpeTokenizer. Every key that changes how text is
// cut is either understood or refused with an Error naming the file and the key; keys that only
// matter to Hugging Face's Python side (truncation, padding, offsets trimming) are ignored.
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "core/runtime/error.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/tokenizer.h"

namespace gp {
namespace {

using Json = nlohmann::json;

class TokenizerJsonReader {
public:
    explicit TokenizerJsonReader(std::string source) : m_source(std::move(source)) {}

    std::unique_ptr<Tokenizer> read(const std::string& text) const {
        Json root;
        try {
            root = Json::parse(text);
        } catch (const Json::exception& e) {  // parse_error, or out_of_range for 1e400
            throw badInput(m_source, "", std::string("malformed JSON: ") + e.what());
        }
        if (!root.is_object()) fail("", "expected a JSON object at the top level");
        BpeModel model = readModel(required(root, "model", ""));
        BpePipeline pipeline;
        pipeline.added = readAddedTokens(root);
        if (const Json* normalizer = present(root, "normalizer"))
            readNormalizer(*normalizer, "normalizer", pipeline.normalizer);
        if (const Json* preTokenizer = present(root, "pre_tokenizer"))
            readPreTokenizer(*preTokenizer, "pre_tokenizer", pipeline.preTokenizer);
        if (const Json* decoder = present(root, "decoder"))
            readDecoder(*decoder, "decoder", pipeline.decoder);
        readBosEos(root, model, pipeline);
        return std::make_unique<BpeTokenizer>(std::move(model), std::move(pipeline));
    }

private:
    [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
        throw badInput(m_source, key, problem);
    }

    static std::string join(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }

    // The member, or nullptr when it is absent or null.
    static const Json* present(const Json& object, const char* key) {
        const auto it = object.find(key);
        return it == object.end() || it->is_null() ? nullptr : &*it;
    }

    const Json& required(const Json& object, const char* key, const std::string& path) const {
        const Json* value = present(object, key);
        if (!value) fail(join(path, key), "missing");
        return *value;
    }

    std::string stringAt(const Json& object, const char* key, const std::string& path) const {
        const Json& value = required(object, key, path);
        if (!value.is_string()) fail(join(path, key), "expected a string");
        return value.get<std::string>();
    }

    bool boolOr(const Json& object, const char* key, bool fallback, const std::string& path) const {
        const Json* value = present(object, key);
        if (!value) return fallback;
        if (!value->is_boolean()) fail(join(path, key), "expected true or false");
        return value->get<bool>();
    }

    size_t sizeOr(const Json& object, const char* key, size_t fallback,
                  const std::string& path) const {
        const Json* value = present(object, key);
        if (!value) return fallback;
        if (!value->is_number_unsigned()) fail(join(path, key), "expected a non-negative integer");
        return value->get<size_t>();
    }

    std::string typeOf(const Json& component, const std::string& path) const {
        if (!component.is_object()) fail(path, "expected a JSON object");
        return stringAt(component, "type", path);
    }

    [[noreturn]] void unsupported(const std::string& path, const std::string& what,
                                  const std::string& type, const std::string& supported) const {
        fail(join(path, "type"),
             "unsupported " + what + " \"" + type + "\" (supported: " + supported + ")");
    }

    std::shared_ptr<const UnicodeRegex> readPattern(const Json& object,
                                                    const std::string& path) const {
        const Json& pattern = required(object, "pattern", path);
        const std::string key = join(path, "pattern");
        const bool literal = pattern.contains("String");
        if (!pattern.is_object() || (!literal && !pattern.contains("Regex")))
            fail(key, "expected {\"String\": ...} or {\"Regex\": ...}");
        const Json& text = pattern.at(literal ? "String" : "Regex");
        if (!text.is_string()) fail(key, "expected a string");
        try {
            return std::make_shared<UnicodeRegex>(text.get<std::string>(), literal,
                                                  UnicodeRegex::Source{m_source, key});
        } catch (const std::invalid_argument& e) {
            fail(key, e.what());
        }
    }

    BpeModel readModel(const Json& model) const {
        if (!model.is_object()) fail("model", "expected a JSON object");
        // Files from old versions of the library leave out the type of a BPE model.
        const std::string type = present(model, "type")     ? stringAt(model, "type", "model")
                                 : model.contains("merges") ? "BPE"
                                                            : "(none)";
        if (type != "BPE")
            fail("model.type", "unsupported tokenizer model \"" + type + "\" (supported: BPE)");
        for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
            const Json* affix = present(model, key);
            if (affix && (!affix->is_string() || !affix->get<std::string>().empty()))
                fail(std::string("model.") + key, "word prefixes and suffixes are not supported");
        }
        BpeModelOptions options;
        if (present(model, "unk_token")) options.unkToken = stringAt(model, "unk_token", "model");
        options.byteFallback = boolOr(model, "byte_fallback", false, "model");
        options.fuseUnk = boolOr(model, "fuse_unk", false, "model");
        options.ignoreMerges = boolOr(model, "ignore_merges", false, "model");
        // "dropout" is ignored: it randomises merges for training, and encoding stays exact.

        const Json& vocabJson = required(model, "vocab", "model");
        if (!vocabJson.is_object()) fail("model.vocab", "expected an object of piece: id");
        std::unordered_map<std::string, int32_t> vocab;
        vocab.reserve(vocabJson.size());
        // Ids index a table of pieces, so one id far beyond the others would make that table
        // huge (a few bytes of a hostile file could ask for tens of gigabytes): gaps between ids
        // are allowed, up to kMaxIdGap past the number of pieces.
        constexpr uint64_t kMaxIdGap = 1u << 16;
        for (const auto& [piece, id] : vocabJson.items()) {
            if (!id.is_number_unsigned() || id.get<uint64_t>() > uint64_t(INT32_MAX - 1))
                fail("model.vocab[\"" + piece + "\"]", "expected a non-negative 31-bit id");
            if (id.get<uint64_t>() >= vocabJson.size() + kMaxIdGap)
                fail("model.vocab[\"" + piece + "\"]",
                     "id " + std::to_string(id.get<uint64_t>()) + " is far beyond the " +
                         std::to_string(vocabJson.size()) +
                         " pieces of the vocabulary (ids run from 0 to about its size)");
            vocab.emplace(piece, int32_t(id.get<uint64_t>()));
        }
        std::optional<BpeModel> bpe;
        try {
            bpe.emplace(std::move(vocab), options);
        } catch (const std::invalid_argument& e) {
            fail("model.unk_token", e.what());
        }
        readMerges(required(model, "merges", "model"), *bpe);
        return std::move(*bpe);
    }

    // Merges are "left right" strings (older files) or ["left", "right"] pairs (newer files).
    void readMerges(const Json& merges, BpeModel& bpe) const {
        if (!merges.is_array()) fail("model.merges", "expected an array");
        for (size_t i = 0; i < merges.size(); ++i) {
            const Json& merge = merges[i];
            const std::string key = "model.merges[" + std::to_string(i) + "]";
            std::string left, right;
            if (merge.is_string()) {
                const std::string line = merge.get<std::string>();
                const size_t space = line.find(' ');
                if (space == std::string::npos) fail(key, "expected \"left right\"");
                left = line.substr(0, space);
                right = line.substr(space + 1);
            } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                       merge[1].is_string()) {
                left = merge[0].get<std::string>();
                right = merge[1].get<std::string>();
            } else {
                fail(key, "expected \"left right\" or [\"left\", \"right\"]");
            }
            try {
                bpe.addMerge(left, right);
            } catch (const std::invalid_argument& e) {
                fail(key, e.what());
            }
        }
    }

    AddedVocabulary readAddedTokens(const Json& root) const {
        std::vector<AddedToken> tokens;
        const Json* list = present(root, "added_tokens");
        if (!list) return AddedVocabulary();
        if (!list->is_array()) fail("added_tokens", "expected an array");
        for (size_t i = 0; i < list->size(); ++i) {
            const Json& entry = (*list)[i];
            const std::string path = "added_tokens[" + std::to_string(i) + "]";
            if (!entry.is_object()) fail(path, "expected a JSON object");
            AddedToken token;
            token.content = stringAt(entry, "content", path);
            const Json& id = required(entry, "id", path);
            if (!id.is_number_unsigned() || id.get<uint64_t>() > uint64_t(INT32_MAX - 1))
                fail(join(path, "id"), "expected a non-negative 31-bit id");
            token.id = int32_t(id.get<uint64_t>());
            token.special = boolOr(entry, "special", false, path);
            // Hugging Face's default: special tokens match the raw text, others the normalized.
            token.normalized = boolOr(entry, "normalized", !token.special, path);
            token.lstrip = boolOr(entry, "lstrip", false, path);
            token.rstrip = boolOr(entry, "rstrip", false, path);
            token.singleWord = boolOr(entry, "single_word", false, path);
            tokens.push_back(std::move(token));
        }
        return AddedVocabulary(std::move(tokens));
    }

    void readNormalizer(const Json& node, const std::string& path, TextNormalizer& out) const {
        const std::string type = typeOf(node, path);
        if (type == "Sequence") {
            const Json& steps = required(node, "normalizers", path);
            if (!steps.is_array()) fail(join(path, "normalizers"), "expected an array");
            for (size_t i = 0; i < steps.size(); ++i)
                readNormalizer(steps[i], path + ".normalizers[" + std::to_string(i) + "]", out);
        } else if (type == "Prepend") {
            out.addPrepend(stringAt(node, "prepend", path));
        } else if (type == "Replace") {
            out.addReplace(readPattern(node, path), stringAt(node, "content", path));
        } else {
            unsupported(path, "normalizer", type, "Prepend, Replace, Sequence");
        }
    }

    PrependScheme readPrependScheme(const Json& node, const std::string& path) const {
        if (present(node, "prepend_scheme")) {
            const std::string scheme = stringAt(node, "prepend_scheme", path);
            if (scheme == "always") return PrependScheme::Always;
            if (scheme == "first") return PrependScheme::First;
            if (scheme == "never") return PrependScheme::Never;
            fail(join(path, "prepend_scheme"),
                 "unknown value \"" + scheme + "\" (expected always, first or never)");
        }
        // Files written before prepend_scheme existed say add_prefix_space.
        return boolOr(node, "add_prefix_space", true, path) ? PrependScheme::Always
                                                            : PrependScheme::Never;
    }

    std::string readReplacement(const Json& node, const std::string& path) const {
        return present(node, "replacement") ? stringAt(node, "replacement", path)
                                            : std::string("\xE2\x96\x81");  // ▁
    }

    SplitBehavior readBehavior(const Json& node, const std::string& path) const {
        const std::string behavior = stringAt(node, "behavior", path);
        if (behavior == "Removed") return SplitBehavior::Removed;
        if (behavior == "Isolated") return SplitBehavior::Isolated;
        if (behavior == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
        if (behavior == "MergedWithNext") return SplitBehavior::MergedWithNext;
        if (behavior == "Contiguous") return SplitBehavior::Contiguous;
        fail(join(path, "behavior"), "unknown split behavior \"" + behavior + "\"");
    }

    void readPreTokenizer(const Json& node, const std::string& path, PreTokenizer& out) const {
        const std::string type = typeOf(node, path);
        if (type == "Sequence") {
            const Json& steps = required(node, "pretokenizers", path);
            if (!steps.is_array()) fail(join(path, "pretokenizers"), "expected an array");
            for (size_t i = 0; i < steps.size(); ++i)
                readPreTokenizer(steps[i], path + ".pretokenizers[" + std::to_string(i) + "]", out);
        } else if (type == "ByteLevel") {
            out.addByteLevel(boolOr(node, "add_prefix_space", true, path),
                             boolOr(node, "use_regex", true, path));
        } else if (type == "Split") {
            out.addSplit(readPattern(node, path), readBehavior(node, path),
                         boolOr(node, "invert", false, path));
        } else if (type == "Metaspace") {
            out.addMetaspace(readReplacement(node, path), readPrependScheme(node, path),
                             boolOr(node, "split", true, path));
        } else if (type == "Digits") {
            out.addSplit(std::make_shared<UnicodeRegex>(R"(\p{N})", false),
                         boolOr(node, "individual_digits", false, path) ? SplitBehavior::Isolated
                                                                        : SplitBehavior::Contiguous,
                         false);
        } else {
            unsupported(path, "pre-tokenizer", type,
                        "ByteLevel, Split, Metaspace, Digits, Sequence");
        }
    }

    void readDecoder(const Json& node, const std::string& path, TokenDecoder& out) const {
        const std::string type = typeOf(node, path);
        if (type == "Sequence") {
            const Json& steps = required(node, "decoders", path);
            if (!steps.is_array()) fail(join(path, "decoders"), "expected an array");
            for (size_t i = 0; i < steps.size(); ++i)
                readDecoder(steps[i], path + ".decoders[" + std::to_string(i) + "]", out);
        } else if (type == "ByteLevel") {
            out.addByteLevel();
        } else if (type == "Replace") {
            out.addReplace(readPattern(node, path), stringAt(node, "content", path));
        } else if (type == "ByteFallback") {
            out.addByteFallback();
        } else if (type == "Fuse") {
            out.addFuse();
        } else if (type == "Strip") {
            out.addStrip(stringAt(node, "content", path), sizeOr(node, "start", 0, path),
                         sizeOr(node, "stop", 0, path));
        } else if (type == "Metaspace") {
            out.addMetaspace(readReplacement(node, path),
                             readPrependScheme(node, path) != PrependScheme::Never);
        } else {
            unsupported(path, "decoder", type,
                        "ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence");
        }
    }

    // BOS / EOS rule: the special token before $A in the post-processor's single template is
    // BOS and the one after it EOS; a side the template does not give is the first of these
    // pieces present (added tokens, then the vocabulary): BOS "<s>", "<|begin_of_text|>",
    // "<|endoftext|>"; EOS "</s>", "<|end_of_text|>", "<|endoftext|>". (GPT-2 and GPT-Neo thus get
    // <|endoftext|> for both, as their tokenizer_config.json says.)
    void readBosEos(const Json& root, const BpeModel& model, BpePipeline& pipeline) const {
        if (const Json* processor = present(root, "post_processor"))
            readTemplateEnds(*processor, pipeline);
        const auto firstPresent = [&](std::initializer_list<const char*> names) {
            for (const char* name : names) {
                if (const auto id = pipeline.added.idOf(name)) return id;
                if (const auto id = model.idOf(name)) return id;
            }
            return std::optional<int32_t>();
        };
        if (!pipeline.bos)
            pipeline.bos = firstPresent({"<s>", "<|begin_of_text|>", "<|endoftext|>"});
        if (!pipeline.eos)
            pipeline.eos = firstPresent({"</s>", "<|end_of_text|>", "<|endoftext|>"});
    }

    // Post-processors only add tokens around a sequence; other kinds are ignored.
    void readTemplateEnds(const Json& processor, BpePipeline& pipeline) const {
        if (!processor.is_object()) return;
        const std::string type = processor.value("type", "");
        if (type == "Sequence" && processor.contains("processors") &&
            processor["processors"].is_array()) {
            for (const Json& inner : processor["processors"]) readTemplateEnds(inner, pipeline);
            return;
        }
        if (type != "TemplateProcessing" || !processor.contains("single")) return;
        const Json& single = processor["single"];
        const Json* specials = present(processor, "special_tokens");
        if (!single.is_array() || !specials || !specials->is_object()) return;
        bool seenSequence = false;
        for (const Json& item : single) {
            if (!item.is_object()) continue;
            if (item.contains("Sequence")) {
                seenSequence = true;
                continue;
            }
            if (!item.contains("SpecialToken")) continue;
            const std::string name = item["SpecialToken"].value("id", "");
            const auto it = specials->find(name);
            if (it == specials->end() || !it->contains("ids") || !(*it)["ids"].is_array() ||
                (*it)["ids"].empty() || !(*it)["ids"][0].is_number_unsigned())
                continue;
            const auto id = int32_t((*it)["ids"][0].get<uint64_t>());
            std::optional<int32_t>& end = seenSequence ? pipeline.eos : pipeline.bos;
            if (!end) end = id;
        }
    }

    std::string m_source;
};

}  // namespace

std::unique_ptr<Tokenizer> tokenizerFromJsonText(const std::string& jsonText,
                                                 const std::string& source) {
    return TokenizerJsonReader(source).read(jsonText);
}

std::unique_ptr<Tokenizer> loadTokenizerJson(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw badInput(path, "", "cannot open the file");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw badInput(path, "", "cannot read the file");
    return tokenizerFromJsonText(text.str(), path);
}

}  // namespace gp
