// Tokenizers: Hugging Face tokenizer.json BPE (byte-level GPT-2 against llama.cpp's reference
// tokenizations, SentencePiece style on a hand-built vocabulary in both of its JSON forms),
// llama2.c's tokenizer.bin (run.c's merge rule, the TinyStories token count), the byte-level BPE
// trainer, and the errors for files we refuse.
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "core/runtime/error.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/llama2c_tokenizer.h"
#include "core/tokenizer/sentencepiece_json.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/support/test_support.h"

using Ids = std::vector<int32_t>;
Q_DECLARE_METATYPE(Ids)
Q_DECLARE_METATYPE(std::string)

namespace {

using Json = nlohmann::ordered_json;

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void writeFile(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

QString describe(const Ids& ids) {
    QStringList parts;
    for (int32_t id : ids) parts << QString::number(id);
    return "[" + parts.join(", ") + "]";
}

// A row name without control characters (the reference texts hold tabs and newlines).
std::string printable(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else
            out += c;
    }
    return out;
}

// Compares id lists and shows both on failure.
#define COMPARE_IDS(actual, expected)                                                              \
    do {                                                                                           \
        const Ids gpActual = (actual), gpExpected = (expected);                                    \
        if (gpActual != gpExpected)                                                                \
            QFAIL(                                                                                 \
                qPrintable("ids " + describe(gpActual) + " != expected " + describe(gpExpected))); \
    } while (false)

// The error a call throws, or a failure saying it threw none.
template <class Call>
std::string errorMessage(Call call) {
    try {
        call();
    } catch (const gp::Error& e) {
        return e.what();
    }
    return "(no gp::Error thrown)";
}

// ---- a SentencePiece-style vocabulary small enough to check by hand ----
//
// Ids 0-2 <unk> <s> </s>, 3-258 the byte pieces <0x00>..<0xFF> (byte b = id b + 3), then the
// pieces below; merges in rank order. "\n" and "ü" are not pieces: they take the byte fallback.
const char* const kPieces[] = {"▁",         "h",  "e",    "l",   "o",
                               "w",         "r",  "d",    "1",   "2",
                               "," /*269*/, "!",  "é",    "日",  "本",
                               "ll",        "he", "▁he",  "llo", "▁hello" /*278*/,
                               "▁w",        "or", "▁wor", "ld",  "▁world" /*283*/,
                               "12",        "▁▁", "日本" /*286*/};
const char* const kMerges[] = {"l l",   "h e", "▁ he",    "ll o", "▁he llo", "▁ w",  "o r",
                               "▁w or", "l d", "▁wor ld", "1 2",  "▁ ▁",     "日 本"};

Json sentencePieceModel() {
    Json vocab = Json::object();
    vocab["<unk>"] = 0;
    vocab["<s>"] = 1;
    vocab["</s>"] = 2;
    for (int byte = 0; byte < 256; ++byte) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", byte);
        vocab[name] = 3 + byte;
    }
    int id = 259;
    for (const char* piece : kPieces) vocab[piece] = id++;
    Json merges = Json::array();
    for (const char* merge : kMerges) merges.push_back(merge);
    return {{"type", "BPE"},    {"dropout", nullptr},    {"unk_token", "<unk>"},
            {"fuse_unk", true}, {"byte_fallback", true}, {"vocab", vocab},
            {"merges", merges}};
}

Json specialTokens() {
    Json added = Json::array();
    const char* names[] = {"<unk>", "<s>", "</s>"};
    for (int id = 0; id < 3; ++id)
        added.push_back({{"id", id},
                         {"content", names[id]},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", true}});
    return added;
}

Json replaceStep(const char* from, const char* to) {
    return {{"type", "Replace"}, {"pattern", {{"String", from}}}, {"content", to}};
}

// The LLaMA / Mistral file of tokenizers < 0.14: Prepend + Replace normalizer, no pre-tokenizer,
// TemplateProcessing adding <s>, and the Replace/ByteFallback/Fuse/Strip decoder.
std::string normalizerFormJson() {
    Json root = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", specialTokens()},
        {"normalizer",
         {{"type", "Sequence"},
          {"normalizers", {{{"type", "Prepend"}, {"prepend", "▁"}}, replaceStep(" ", "▁")}}}},
        {"pre_tokenizer", nullptr},
        {"post_processor",
         {{"type", "TemplateProcessing"},
          {"single",
           {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
            {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
          {"pair", Json::array()},
          {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
        {"decoder",
         {{"type", "Sequence"},
          {"decoders",
           {replaceStep("▁", " "),
            {{"type", "ByteFallback"}},
            {{"type", "Fuse"}},
            {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
        {"model", sentencePieceModel()}};
    return root.dump(2);
}

// The newer file: Metaspace pre-tokenizer (prepend_scheme "first", no split) and decoder.
std::string metaspaceFormJson(const char* scheme = "first", bool split = false) {
    const Json metaspace = {
        {"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", scheme}, {"split", split}};
    Json root = {{"version", "1.0"},
                 {"truncation", nullptr},
                 {"padding", nullptr},
                 {"added_tokens", specialTokens()},
                 {"normalizer", nullptr},
                 {"pre_tokenizer", metaspace},
                 {"post_processor", nullptr},
                 {"decoder",
                  {{"type", "Sequence"},
                   {"decoders", {metaspace, {{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}}},
                 {"model", sentencePieceModel()}};
    return root.dump(2);
}

// ---- llama2.c tokenizer.bin built in memory ----

struct BinPiece {
    float score;
    std::string text;
};

// <unk>, <s>, </s> and the byte pieces as llama2.c's tokenizer.py writes them, then `extra`.
std::vector<BinPiece> llama2cPieces(const std::vector<BinPiece>& extra) {
    std::vector<BinPiece> pieces = {{0.f, "<unk>"}, {0.f, "\n<s>\n"}, {0.f, "\n</s>\n"}};
    for (int byte = 0; byte < 256; ++byte) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", byte);
        pieces.push_back({0.f, name});
    }
    pieces.insert(pieces.end(), extra.begin(), extra.end());
    return pieces;
}

std::string llama2cBin(const std::vector<BinPiece>& pieces, uint32_t maxTokenLength = 8) {
    std::string bytes(reinterpret_cast<const char*>(&maxTokenLength), 4);
    for (const BinPiece& piece : pieces) {
        const auto length = int32_t(piece.text.size());
        bytes.append(reinterpret_cast<const char*>(&piece.score), 4);
        bytes.append(reinterpret_cast<const char*>(&length), 4);
        bytes += piece.text;
    }
    return bytes;
}

// Pieces for the hand-checked llama2.c cases: ids 259.. in this order.
const std::vector<BinPiece> kLlama2cExtra = {
    {-10.f, " "} /*259*/,  {-11.f, "a"} /*260*/, {-12.f, "b"} /*261*/,
    {-13.f, "c"} /*262*/,  {-5.f, " a"} /*263*/, {-1.f, "ab"} /*264*/,
    {-2.f, " ab"} /*265*/, {-3.f, "bc"} /*266*/, {-1.f, "aa"} /*267*/};

// ---- text for the trainer ----

// Seeded sentences over a few hundred made-up words (syllables), numbers, punctuation and some
// non-ASCII words: enough distinct words that the trainer has merges left at vocab 1024.
std::string generatedStories(size_t bytes, uint32_t seed, bool asciiOnly = false) {
    const char* const syllables[] = {"ka", "lo", "mi", "tu", "ra", "ne", "so", "pi", "da", "ve",
                                     "bo", "li", "ch", "an", "st", "er", "ow", "ee", "th", "ly"};
    const char* const foreign[] = {"café", "naïve", "日本", "über", "señor"};
    const char* const ends[] = {".", "!", "?", ",", ".\n", ".\n\n", ";", ":"};
    std::mt19937 random(seed);
    std::vector<std::string> words;
    for (int i = 0; i < 400; ++i) {
        std::string word;
        for (int k = 0, n = 1 + int(random() % 3); k < n; ++k) word += syllables[random() % 20];
        words.push_back(word);
    }
    std::string text;
    while (text.size() < bytes) {
        const int length = 3 + int(random() % 8);
        for (int i = 0; i < length; ++i) {
            const uint32_t pick = random() % 100;
            std::string word = pick < 90 || (asciiOnly && pick >= 96)
                                   ? words[random() % words.size()]
                               : pick < 96 ? std::to_string(random() % 1000)
                                           : foreign[random() % 5];
            if (i == 0) word[0] = char(std::toupper(static_cast<unsigned char>(word[0])));
            text += (i ? " " : "") + word;
        }
        text += ends[random() % (sizeof(ends) / sizeof(*ends))];
        if (text.back() != '\n') text += ' ';
    }
    return text;
}

// Byte offset of piece `index`'s int32 length field in a tokenizer.bin.
size_t lengthFieldOffset(const std::vector<BinPiece>& pieces, size_t index) {
    size_t offset = 4;
    for (size_t i = 0; i < index; ++i) offset += 8 + pieces[i].text.size();
    return offset + 4;
}

// The trainer's rule computed the slow way: every step recounts all pairs of all words and
// takes the highest count, ties to the smallest (left, right). ASCII text only, so the GPT-2
// pattern can be written with std::regex. Returns the merges as id pairs.
std::vector<std::pair<int32_t, int32_t>> naiveMerges(const std::string& text, size_t pieceTarget) {
    const std::regex pattern(
        R"('s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+)");
    std::map<std::string, int64_t> counts;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern);
         it != std::sregex_iterator(); ++it)
        ++counts[it->str()];
    std::vector<std::pair<std::vector<int32_t>, int64_t>> words;
    for (const auto& [word, count] : counts)
        words.push_back({std::vector<int32_t>(word.begin(), word.end()), count});
    std::vector<std::string> pieces;
    std::map<std::string, int32_t> idOf;
    for (int byte = 0; byte < 256; ++byte) {
        pieces.push_back(std::string(1, char(byte)));
        idOf[pieces.back()] = byte;
    }
    std::vector<std::pair<int32_t, int32_t>> merges;
    while (pieces.size() < pieceTarget) {
        std::map<std::pair<int32_t, int32_t>, int64_t> pairCounts;
        for (const auto& [symbols, count] : words)
            for (size_t i = 0; i + 1 < symbols.size(); ++i)
                pairCounts[{symbols[i], symbols[i + 1]}] += count;
        if (pairCounts.empty()) break;
        auto best = pairCounts.begin();
        for (auto it = pairCounts.begin(); it != pairCounts.end(); ++it)
            if (it->second > best->second) best = it;
        const auto [left, right] = best->first;
        const std::string merged = pieces[size_t(left)] + pieces[size_t(right)];
        if (!idOf.count(merged)) {
            idOf[merged] = int32_t(pieces.size());
            pieces.push_back(merged);
        }
        merges.push_back({left, right});
        for (auto& [symbols, count] : words) {
            std::vector<int32_t> next;
            for (size_t i = 0; i < symbols.size(); ++i) {
                if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
                    next.push_back(idOf[merged]);
                    ++i;
                } else {
                    next.push_back(symbols[i]);
                }
            }
            symbols = std::move(next);
        }
    }
    return merges;
}

// The stripped, non-empty pieces of `text` between separators.
std::vector<std::string> splitStories(const std::string& text, const std::string& separator) {
    const char* space = " \t\n\r\v\f";
    std::vector<std::string> stories;
    for (size_t begin = 0; begin <= text.size();) {
        size_t end = text.find(separator, begin);
        if (end == std::string::npos) end = text.size();
        const std::string piece = text.substr(begin, end - begin);
        const size_t first = piece.find_first_not_of(space);
        if (first != std::string::npos)
            stories.push_back(piece.substr(first, piece.find_last_not_of(space) + 1 - first));
        begin = end + separator.size();
    }
    return stories;
}

}  // namespace


class TestTokenizer : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<gp::Tokenizer> m_gpt2;

    std::string tempPath(const char* name) const { return m_dir.filePath(name).toStdString(); }

    const gp::Tokenizer& gpt2(const std::string& path) {
        if (!m_gpt2) m_gpt2 = gp::loadTokenizerJson(path);
        return *m_gpt2;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        writeFile(tempPath("sp-normalizer.json"), normalizerFormJson());
        writeFile(tempPath("sp-metaspace.json"), metaspaceFormJson());
        writeFile(tempPath("sp-metaspace-split.json"), metaspaceFormJson("always", true));
        writeFile(tempPath("hand.bin"), llama2cBin(llama2cPieces(kLlama2cExtra)));
    }

    // ---- GPT-2 byte-level BPE ----

    // llama.cpp's 46 reference tokenizations of GPT-2 (made with Hugging Face tokenizers).
    void gpt2ReferenceCases_data() {
        QTest::addColumn<std::string>("text");
        QTest::addColumn<Ids>("expected");
        QString missing;
        const std::string inputs =
            gp::test::dataFileOrEmpty("tokenizer-golden/ggml-vocab-gpt-2.gguf.inp", &missing);
        if (inputs.empty()) {
            QTest::newRow("no data") << std::string() << Ids();
            return;
        }
        const std::string all = readFile(inputs);
        const std::string separator = "\n__ggml_vocab_test__\n";
        std::vector<std::string> cases;
        for (size_t begin = 0;;) {
            const size_t end = all.find(separator, begin);
            if (end == std::string::npos) break;
            cases.push_back(all.substr(begin, end - begin));
            begin = end + separator.size();
        }
        std::istringstream outputs(readFile(inputs.substr(0, inputs.size() - 3) + "out"));
        std::string line;
        for (size_t i = 0; i < cases.size() && std::getline(outputs, line); ++i) {
            Ids ids;
            std::istringstream numbers(line);
            for (int32_t id; numbers >> id;) ids.push_back(id);
            QTest::addRow("%zu: %s", i, printable(cases[i].substr(0, 24)).c_str())
                << cases[i] << ids;
        }
        QCOMPARE(cases.size(), size_t(46));
    }

    void gpt2ReferenceCases() {
        GP_REQUIRE_DATA(path, "gpt2-tokenizer/tokenizer.json");
        QFETCH(std::string, text);
        QFETCH(Ids, expected);
        const gp::Tokenizer& tokenizer = gpt2(path);
        COMPARE_IDS(tokenizer.encode(text), expected);
        QCOMPARE(tokenizer.decode(expected), text);
    }

    // The whole WikiText-2 test text: exact round trip, the token count Hugging Face's
    // perplexity guide reports for "\n\n".join(test rows) (287,644), and the speed.
    void gpt2WikiTextRoundTrip() {
        GP_REQUIRE_DATA(path, "gpt2-tokenizer/tokenizer.json");
        GP_REQUIRE_DATA(wiki, "wikitext2/wiki.test.raw");
        const gp::Tokenizer& tokenizer = gpt2(path);
        const std::string text = readFile(wiki);
        QElapsedTimer timer;
        timer.start();
        const Ids ids = tokenizer.encode(text);
        const qint64 encodeMs = timer.restart();
        const std::string back = tokenizer.decode(ids);
        const qint64 decodeMs = timer.elapsed();
        qInfo("GPT-2: %zu bytes -> %zu tokens, encode %lld ms, decode %lld ms", text.size(),
              ids.size(), encodeMs, decodeMs);
        QCOMPARE(ids.size(), size_t(287644));
        QVERIFY(back == text);
    }

    void gpt2SpecialTokens() {
        GP_REQUIRE_DATA(path, "gpt2-tokenizer/tokenizer.json");
        const gp::Tokenizer& tokenizer = gpt2(path);
        // "Hello" = 15496 and " world" = 995 in the reference cases above.
        COMPARE_IDS(tokenizer.encode("Hello<|endoftext|> world"), Ids({15496, 50256, 995}));
        COMPARE_IDS(tokenizer.encode("<|endoftext|><|endoftext|>"), Ids({50256, 50256}));
        QCOMPARE(tokenizer.decode({15496, 50256, 995}), std::string("Hello<|endoftext|> world"));
        QCOMPARE(tokenizer.vocabSize(), 50257);
        QCOMPARE(tokenizer.bosId(), std::optional<int32_t>(50256));
        QCOMPARE(tokenizer.eosId(), std::optional<int32_t>(50256));
        QCOMPARE(tokenizer.pieceId("Ġthe"), std::optional<int32_t>(262));
        QCOMPARE(tokenizer.piece(262), std::string("Ġthe"));
        QCOMPARE(tokenizer.piece(50256), std::string("<|endoftext|>"));
        QCOMPARE(tokenizer.piece(60000), std::string());
        QVERIFY(!tokenizer.pieceId("no such piece"));
        // Ids past the vocabulary are skipped; a cut multi-byte character stays as its bytes.
        QCOMPARE(tokenizer.decode({15496, 70000}), std::string("Hello"));
        const Ids rocket = tokenizer.encode("🚀");
        std::string pieceByPiece;
        for (int32_t id : rocket) pieceByPiece += tokenizer.decode({id});
        QCOMPARE(pieceByPiece, std::string("🚀"));
    }

    void rejectsInvalidUtf8() {
        const auto tokenizer = gp::loadTokenizerJson(tempPath("sp-normalizer.json"));
        const std::string message =
            errorMessage([&] { tokenizer->encode(std::string("ok \xC3\x28 no")); });
        QVERIFY2(message.find("not valid UTF-8 at byte offset 3") != std::string::npos,
                 message.c_str());
    }

    // ---- SentencePiece style (LLaMA / Mistral) on the hand-checked vocabulary ----

    void sentencePieceStyle_data() {
        QTest::addColumn<std::string>("text");
        QTest::addColumn<Ids>("normalizerIds");  // Prepend + Replace normalizer
        QTest::addColumn<Ids>("metaspaceIds");   // Metaspace, prepend_scheme first
        QTest::addColumn<std::string>("normalizerDecoded");
        QTest::addColumn<std::string>("metaspaceDecoded");
        // "▁hello▁world": l+l, h+e, ▁+he, ll+o, ▁he+llo, ▁+w, o+r, ▁w+or, l+d, ▁wor+ld.
        QTest::newRow("words") << std::string("hello world") << Ids{278, 283} << Ids{278, 283}
                               << std::string("hello world") << std::string("hello world");
        QTest::newRow("punctuation")
            << std::string("hello, world!") << Ids{278, 269, 283, 270} << Ids{278, 269, 283, 270}
            << std::string("hello, world!") << std::string("hello, world!");
        // "▁12▁1▁2": only 1+2 merges.
        QTest::newRow("digits") << std::string("12 1 2") << Ids{259, 284, 259, 267, 259, 268}
                                << Ids{259, 284, 259, 267, 259, 268} << std::string("12 1 2")
                                << std::string("12 1 2");
        // "\n" is no piece: byte 0x0A = id 13; "world" without "▁" is w + or + ld.
        QTest::newRow("newline") << std::string("hello\nworld") << Ids{278, 13, 264, 280, 282}
                                 << Ids{278, 13, 264, 280, 282} << std::string("hello\nworld")
                                 << std::string("hello\nworld");
        // é is a piece; ü = C3 BC -> 198 191; 日+本 merge.
        QTest::newRow("non-ascii")
            << std::string("é ü 日本") << Ids{259, 271, 259, 198, 191, 259, 286}
            << Ids{259, 271, 259, 198, 191, 259, 286} << std::string("é ü 日本")
            << std::string("é ü 日本");
        // 🚀 = F0 9F 9A 80 -> 243 162 157 131.
        QTest::newRow("emoji") << std::string("🚀") << Ids{259, 243, 162, 157, 131}
                               << Ids{259, 243, 162, 157, 131} << std::string("🚀")
                               << std::string("🚀");
        // "▁hello▁▁▁world": ▁+w (rank 5) fires before ▁+▁ (rank 11), which then joins the two
        // "▁" left of "▁world".
        QTest::newRow("three spaces")
            << std::string("hello   world") << Ids{278, 285, 283} << Ids{278, 285, 283}
            << std::string("hello   world") << std::string("hello   world");
        QTest::newRow("trailing space") << std::string("hello ") << Ids{278, 259} << Ids{278, 259}
                                        << std::string("hello ") << std::string("hello ");
        // Where the two forms differ (as in Hugging Face): Prepend always adds "▁" (giving
        // "▁▁hello▁"), Metaspace only when the text does not start with one; its decoder then
        // drops the first "▁".
        QTest::newRow("leading space")
            << std::string(" hello ") << Ids{259, 278, 259} << Ids{278, 259}
            << std::string(" hello ") << std::string("hello ");
        // Special tokens cut the text first; after <s> Metaspace "first" adds no "▁" (he + llo).
        QTest::newRow("special tokens")
            << std::string("<s>hello</s>") << Ids{1, 278, 2} << Ids{1, 275, 277, 2}
            << std::string("<s> hello</s>") << std::string("<s>hello</s>");
        QTest::newRow("empty") << std::string() << Ids{} << Ids{} << std::string() << std::string();
    }

    void sentencePieceStyle() {
        QFETCH(std::string, text);
        QFETCH(Ids, normalizerIds);
        QFETCH(Ids, metaspaceIds);
        QFETCH(std::string, normalizerDecoded);
        QFETCH(std::string, metaspaceDecoded);
        const auto normalizerForm = gp::loadTokenizerJson(tempPath("sp-normalizer.json"));
        const auto metaspaceForm = gp::loadTokenizerJson(tempPath("sp-metaspace.json"));
        COMPARE_IDS(normalizerForm->encode(text), normalizerIds);
        COMPARE_IDS(metaspaceForm->encode(text), metaspaceIds);
        QCOMPARE(normalizerForm->decode(normalizerIds), normalizerDecoded);
        QCOMPARE(metaspaceForm->decode(metaspaceIds), metaspaceDecoded);
    }

    void sentencePieceIdsAndSplitMetaspace() {
        const auto normalizerForm = gp::loadTokenizerJson(tempPath("sp-normalizer.json"));
        const auto metaspaceForm = gp::loadTokenizerJson(tempPath("sp-metaspace.json"));
        for (const gp::Tokenizer* tokenizer : {normalizerForm.get(), metaspaceForm.get()}) {
            QCOMPARE(tokenizer->vocabSize(), 287);
            QCOMPARE(tokenizer->bosId(), std::optional<int32_t>(1));
            QCOMPARE(tokenizer->eosId(), std::optional<int32_t>(2));
            QCOMPARE(tokenizer->pieceId("▁hello"), std::optional<int32_t>(278));
            QCOMPARE(tokenizer->piece(13), std::string("<0x0A>"));
        }
        // The older Metaspace (split on "▁", prefix always): "▁" pieces stay apart, and a
        // stretch after a special token gets its "▁" too.
        const auto split = gp::loadTokenizerJson(tempPath("sp-metaspace-split.json"));
        COMPARE_IDS(split->encode("hello   world"), Ids({278, 259, 259, 283}));
        COMPARE_IDS(split->encode("<s>hello"), Ids({1, 278}));
    }

    // ---- llama2.c tokenizer.bin ----

    void llama2cHandChecked_data() {
        QTest::addColumn<std::string>("text");
        QTest::addColumn<Ids>("expected");
        QTest::addColumn<std::string>("decoded");
        // " "+a+b+c: ab (-1) beats bc (-3) and " a" (-5); then " "+ab = " ab" (-2).
        QTest::newRow("best score first")
            << std::string("abc") << Ids{265, 262} << std::string("abc");
        // a+a at two places with equal score: the leftmost merges, then nothing is left
        // (" aa" and "aaa" are no pieces); merging the right one first would allow " a".
        QTest::newRow("tie goes left")
            << std::string("aaa") << Ids{259, 267, 260} << std::string("aaa");
        // Code points outside the vocabulary take byte pieces: é = C3 A9 -> 198 172.
        QTest::newRow("byte fallback")
            << std::string("aé\n") << Ids{263, 198, 172, 13} << std::string("aé\n");
        QTest::newRow("empty") << std::string() << Ids{} << std::string();
    }

    void llama2cHandChecked() {
        QFETCH(std::string, text);
        QFETCH(Ids, expected);
        QFETCH(std::string, decoded);
        const auto tokenizer = gp::loadLlama2cTokenizer(tempPath("hand.bin"), 268);
        COMPARE_IDS(tokenizer->encode(text), expected);
        QCOMPARE(tokenizer->decode(expected), decoded);
        Ids withBos = {1};
        withBos.insert(withBos.end(), expected.begin(), expected.end());
        QCOMPARE(tokenizer->decode(withBos), std::string("\n<s>\n") + decoded);
    }

    void llama2cStories260K() {
        GP_REQUIRE_DATA(path, "stories260K/tok512.bin");
        const auto tokenizer = gp::loadTokenizer(path, 512);
        QCOMPARE(tokenizer->vocabSize(), 512);
        QCOMPARE(tokenizer->bosId(), std::optional<int32_t>(1));
        QCOMPARE(tokenizer->eosId(), std::optional<int32_t>(2));
        // Pieces " Once", " upon", " a", " time" (checked against run.c's algorithm).
        const Ids ids = tokenizer->encode("Once upon a time");
        COMPARE_IDS(ids, Ids({403, 407, 261, 378}));
        QCOMPARE(tokenizer->piece(403), std::string(" Once"));
        QCOMPARE(tokenizer->decode(ids), std::string("Once upon a time"));
        QCOMPARE(tokenizer->decode({1, 403, 407, 261, 378}).substr(5),
                 std::string("Once upon a time"));
        // Apostrophe, newline (no piece: <0x0A>), é (a piece here), emoji (bytes).
        const std::string text = "Lily's cat!\nThe end. é🚀";
        const char* pieces[] = {" Lily",  "'", "s",      " c",     "at",     "!",
                                "<0x0A>", "T", "he",     " e",     "nd",     ".",
                                " ",      "é", "<0xF0>", "<0x9F>", "<0x9A>", "<0x80>"};
        Ids expected;
        for (const char* piece : pieces) expected.push_back(tokenizer->pieceId(piece).value());
        COMPARE_IDS(tokenizer->encode(text), expected);
        QCOMPARE(tokenizer->decode(expected), text);
    }

    // TinyStories-valid.first69.txt: 69 stories, 22,222 tok512 tokens with one BOS per story
    // (PROVENANCE.md).
    void llama2cTinyStoriesTokenCount() {
        GP_REQUIRE_DATA(path, "stories260K/tok512.bin");
        GP_REQUIRE_DATA(stories, "tinystories/TinyStories-valid.first69.txt");
        const auto tokenizer = gp::loadLlama2cTokenizer(path, 512);
        const std::string text = readFile(stories);
        const std::string separator = "<|endoftext|>";
        const auto strip = [](const std::string& s) {
            const char* space = " \t\n\r\v\f";
            const size_t begin = s.find_first_not_of(space);
            return begin == std::string::npos
                       ? std::string()
                       : s.substr(begin, s.find_last_not_of(space) + 1 - begin);
        };
        size_t total = 0, count = 0;
        for (size_t begin = 0; begin <= text.size();) {
            size_t end = text.find(separator, begin);
            if (end == std::string::npos) end = text.size();
            const std::string story = strip(text.substr(begin, end - begin));
            if (!story.empty()) {
                const Ids ids = tokenizer->encode(story);
                total += 1 + ids.size();
                ++count;
                if (count == 1) QCOMPARE(tokenizer->decode(ids), story);
            }
            begin = end + separator.size();
        }
        QCOMPARE(count, size_t(69));
        QCOMPARE(total, size_t(22222));
    }

    // SentencePiece pieces -> merges, checked by hand. By score: "ab" (-1) before "abc" (-2),
    // whose two splits "ab"+"c" (longer left part) and "a"+"bc" follow; "bc" (-3) last. By id
    // (all scores equal): "bc" (id 4) before "ab" (id 5) before "abc" (id 6) (shorter left part
    // first); pieces with a part outside the vocabulary give no merge.
    void sentencePieceMergeOrder() {
        using Pairs = std::vector<std::pair<std::string, std::string>>;
        const std::vector<std::string> pieces = {"<unk>", "a", "b", "c", "bc", "ab", "abc", "xy"};
        const std::vector<float> scores = {0, 0, 0, 0, -3, -1, -2, -4};
        QCOMPARE(gp::sentencePieceMerges(pieces, scores),
                 (Pairs{{"a", "b"}, {"ab", "c"}, {"a", "bc"}, {"b", "c"}}));
        const std::vector<float> flat(pieces.size(), -1000.0f);
        QCOMPARE(gp::sentencePieceMerges(pieces, flat),
                 (Pairs{{"b", "c"}, {"a", "b"}, {"a", "bc"}, {"ab", "c"}}));
        QCOMPARE(gp::sentencePieceMerges(pieces, {}), gp::sentencePieceMerges(pieces, flat));
        // Code points, not bytes: "é" is never cut.
        QCOMPARE(gp::sentencePieceMerges({"<unk>", "\xC3\xA9", "x", "\xC3\xA9x"}, {}),
                 (Pairs{{"\xC3\xA9", "x"}}));
    }

    // stories260K's tok512.bin written as tokenizer.json encodes every story of TinyStories
    // (the 69 of the canonical file and the first 300 paragraphs of the validation text) to the
    // same ids as run.c's algorithm on the .bin, and decodes them back to the same text.
    void llama2cAsTokenizerJson() {
        GP_REQUIRE_DATA(path, "stories260K/tok512.bin");
        GP_REQUIRE_DATA(stories, "tinystories/TinyStories-valid.first69.txt");
        GP_REQUIRE_DATA(validation, "tinystories/tinystories_val.txt");
        const auto bin = gp::parseLlama2cTokenizer(readFile(path), 512, path);
        const std::string jsonText = gp::sentencePieceTokenizerJson(bin->sentencePieceVocab());
        const auto json = gp::tokenizerFromJsonText(jsonText, "tokenizer.json");
        QCOMPARE(json->vocabSize(), 512);
        QCOMPARE(json->bosId(), std::optional<int32_t>(1));
        QCOMPARE(json->eosId(), std::optional<int32_t>(2));
        std::vector<std::string> texts = splitStories(readFile(stories), "<|endoftext|>");
        QCOMPARE(texts.size(), size_t(69));
        std::vector<std::string> paragraphs = splitStories(readFile(validation), "\n\n");
        paragraphs.resize(std::min<size_t>(paragraphs.size(), 300));
        texts.insert(texts.end(), paragraphs.begin(), paragraphs.end());
        texts.push_back("Lily's cat!\nThe end. \xC3\xA9\xF0\x9F\x9A\x80  two  spaces ");
        size_t tokens = 0;
        for (const std::string& text : texts) {
            const Ids expected = bin->encode(text);
            const Ids ids = json->encode(text);
            if (ids != expected) COMPARE_IDS(ids, expected);
            QCOMPARE(json->decode(ids), bin->decode(expected));
            tokens += ids.size();
        }
        qInfo("tok512.bin and its tokenizer.json: identical ids on %zu texts (%zu tokens)",
              texts.size(), tokens);
    }

    // ---- the byte-level BPE trainer ----

    void trainerMergeOrder_data() {
        QTest::addColumn<std::string>("text");
        QTest::addColumn<int>("vocabSize");
        QTest::addColumn<QStringList>("merges");
        // Words "ab" x1, " ab" x2, " abc" x2: a+b counts 5, then " "+ab 4, then " ab"+c 2.
        QTest::newRow("by count") << std::string("ab ab ab abc abc") << 259
                                  << QStringList{"a b", "Ġ ab", "Ġab c"};
        QTest::newRow("stops at vocab size")
            << std::string("ab ab ab abc abc") << 257 << QStringList{"a b"};
        // Every pair counts 1: the smallest (left id, right id) goes first: (32,'z') < ('x','y').
        QTest::newRow("ties by id")
            << std::string("xy zw") << 300 << QStringList{"Ġ z", "x y", "Ġz w"};
        // "aaaa" holds a+a three times (overlaps counted, as Hugging Face does): aa, then aa+aa.
        QTest::newRow("overlaps") << std::string("aaaa") << 300 << QStringList{"a a", "aa aa"};
    }

    void trainerMergeOrder() {
        QFETCH(std::string, text);
        QFETCH(int, vocabSize);
        QFETCH(QStringList, merges);
        const Json file = Json::parse(gp::trainByteLevelBpe(text, vocabSize, {}));
        QStringList learned;
        for (const Json& merge : file["model"]["merges"])
            learned << QString::fromStdString(merge.get<std::string>());
        QCOMPARE(learned, merges);
        QCOMPARE(file["model"]["vocab"].size(), size_t(256 + merges.size()));
        // Ids: bytes first (id = byte value), then pieces in the order learned.
        QCOMPARE(file["model"]["vocab"]["a"].get<int>(), int('a'));
        QCOMPARE(file["model"]["vocab"]["Ġ"].get<int>(), int(' '));
        QString last = merges.back();
        QCOMPARE(file["model"]["vocab"][last.remove(' ').toStdString()].get<int>(),
                 255 + int(merges.size()));
    }

    // The incremental pair counts give the same merges as recounting everything each step.
    void trainerMatchesNaiveRecount() {
        const std::string text = generatedStories(30000, 5, true);
        const Json file = Json::parse(gp::trainByteLevelBpe(text, 700, {}));
        const Json& vocab = file["model"]["vocab"];
        std::vector<std::pair<int32_t, int32_t>> learned;
        for (const Json& merge : file["model"]["merges"]) {
            const std::string line = merge.get<std::string>();
            const size_t space = line.find(' ');
            learned.push_back({vocab[line.substr(0, space)].get<int32_t>(),
                               vocab[line.substr(space + 1)].get<int32_t>()});
        }
        const auto expected = naiveMerges(text, 700);
        QCOMPARE(learned.size(), expected.size());
        QVERIFY(learned.size() > 300);
        for (size_t i = 0; i < learned.size(); ++i)
            QVERIFY2(learned[i] == expected[i], qPrintable(QString("merge %1 differs").arg(i)));
    }

    void trainerRoundTrip() {
        const std::string text =
            generatedStories(200000, 7) + "<|endoftext|>" + generatedStories(20000, 8);
        QElapsedTimer timer;
        timer.start();
        const std::string json = gp::trainByteLevelBpe(text, 600, {"<|endoftext|>", "<pad>"});
        qInfo("trained vocab 600 on %zu bytes in %lld ms", text.size(), timer.elapsed());
        QCOMPARE(gp::trainByteLevelBpe(text, 600, {"<|endoftext|>", "<pad>"}), json);
        writeFile(tempPath("trained.json"), json);
        const auto tokenizer = gp::loadTokenizerJson(tempPath("trained.json"));
        QCOMPARE(tokenizer->vocabSize(), 600);
        QCOMPARE(tokenizer->pieceId("<|endoftext|>"), std::optional<int32_t>(598));
        QCOMPARE(tokenizer->pieceId("<pad>"), std::optional<int32_t>(599));
        QCOMPARE(tokenizer->bosId(), std::optional<int32_t>(598));
        const Ids ids = tokenizer->encode(text);
        QVERIFY(ids.size() < text.size() / 3);  // the merges compress the text it learned
        QCOMPARE(std::count(ids.begin(), ids.end(), 598), 1L);
        QVERIFY(tokenizer->decode(ids) == text);
        // Bytes it never saw still round-trip: the 256 byte pieces cover everything.
        const std::string unseen = "Ωmega ☃ \t\r\n 🦙 <pad>~";
        QCOMPARE(tokenizer->decode(tokenizer->encode(unseen)), unseen);
        // The learned special token was cut out of the training words, never merged into them.
        for (int32_t id = 256; id < 598; ++id)
            QVERIFY(tokenizer->piece(id).find("endoftext") == std::string::npos);
    }

    // About 2 MB of simple English at vocab 1024: seconds, not minutes.
    void trainerSpeed() {
        const std::string text = generatedStories(2 << 20, 11);
        QElapsedTimer timer;
        timer.start();
        const std::string json = gp::trainByteLevelBpe(text, 1024, {"<|endoftext|>"});
        const qint64 ms = timer.elapsed();
        qInfo("trained vocab 1024 on %zu bytes in %lld ms", text.size(), ms);
        QVERIFY2(ms < 20000, "training took longer than 20 s");
        QCOMPARE(Json::parse(json)["model"]["vocab"].size(), size_t(1024));
    }

    void trainerRejectsBadArguments() {
        QVERIFY(errorMessage([] {
                    gp::trainByteLevelBpe("abc", 256, {"<s>"});
                }).find("vocab size") != std::string::npos);
        QVERIFY(errorMessage([] {
                    gp::trainByteLevelBpe("abc", 300, {"<s>", "<s>"});
                }).find("given twice") != std::string::npos);
        QVERIFY(errorMessage([] {
                    gp::trainByteLevelBpe("a\xFF", 300, {});
                }).find("not valid UTF-8") != std::string::npos);
    }

    // ---- files we refuse ----

    void refusedFiles_data() {
        QTest::addColumn<std::string>("fileName");
        QTest::addColumn<std::string>("content");
        QTest::addColumn<int>("vocabSize");
        QTest::addColumn<QStringList>("mustSay");
        const Json bpe = {
            {"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}}}, {"merges", Json::array()}};
        const auto withModel = [](Json model) { return Json{{"model", model}}.dump(); };
        const auto withPart = [&](const char* key, Json part) {
            return Json{{key, part}, {"model", bpe}}.dump();
        };
        QTest::newRow("malformed JSON")
            << std::string("bad.json") << std::string("{\"model\": {\"type\": \"BPE\"") << 0
            << QStringList{"malformed JSON"};
        QTest::newRow("WordPiece")
            << std::string("wp.json") << withModel({{"type", "WordPiece"}, {"vocab", {{"a", 0}}}})
            << 0 << QStringList{"model.type", "\"WordPiece\"", "supported: BPE"};
        QTest::newRow("Unigram") << std::string("uni.json")
                                 << withModel({{"type", "Unigram"}, {"vocab", {{"a", 0.0}}}}) << 0
                                 << QStringList{"model.type", "\"Unigram\""};
        QTest::newRow("no model") << std::string("nomodel.json") << std::string("{}") << 0
                                  << QStringList{"model: missing"};
        QTest::newRow("NFC normalizer")
            << std::string("nfc.json") << withPart("normalizer", {{"type", "NFC"}}) << 0
            << QStringList{"normalizer.type", "unsupported normalizer \"NFC\""};
        QTest::newRow("nested normalizer")
            << std::string("nfkc.json")
            << withPart(
                   "normalizer",
                   {{"type", "Sequence"},
                    {"normalizers", {{{"type", "Prepend"}, {"prepend", "x"}}, {{"type", "NFKC"}}}}})
            << 0 << QStringList{"normalizer.normalizers[1].type", "\"NFKC\""};
        QTest::newRow("BERT pre-tokenizer")
            << std::string("bert.json") << withPart("pre_tokenizer", {{"type", "BertPreTokenizer"}})
            << 0 << QStringList{"pre_tokenizer.type", "\"BertPreTokenizer\""};
        QTest::newRow("WordPiece decoder")
            << std::string("dec.json") << withPart("decoder", {{"type", "WordPiece"}}) << 0
            << QStringList{"decoder.type", "unsupported decoder \"WordPiece\""};
        QTest::newRow("bad regex")
            << std::string("regex.json")
            << withPart(
                   "pre_tokenizer",
                   {{"type", "Split"}, {"pattern", {{"Regex", "(("}}}, {"behavior", "Isolated"}})
            << 0 << QStringList{"pre_tokenizer.pattern", "bad regular expression"};
        QTest::newRow("merge outside vocab")
            << std::string("merge.json")
            << withModel({{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}}}, {"merges", {"a z"}}})
            << 0 << QStringList{"model.merges[0]", "\"z\" is not in the vocabulary"};
        QTest::newRow("word suffix") << std::string("suffix.json")
                                     << withModel({{"type", "BPE"},
                                                   {"vocab", {{"a", 0}}},
                                                   {"merges", Json::array()},
                                                   {"end_of_word_suffix", "</w>"}})
                                     << 0 << QStringList{"model.end_of_word_suffix"};

        const std::vector<BinPiece> pieces = llama2cPieces(kLlama2cExtra);
        const std::string bin = llama2cBin(pieces);
        QTest::newRow("tokenizer.bin truncated")
            << std::string("cut.bin") << bin.substr(0, bin.size() - 1) << 268
            << QStringList{"piece 267", "truncated"};
        QTest::newRow("tokenizer.bin header only")
            << std::string("header.bin") << bin.substr(0, 2) << 268
            << QStringList{"max_token_length", "truncated"};
        QTest::newRow("tokenizer.bin fewer pieces than the model")
            << std::string("few.bin") << bin << 300 << QStringList{"piece 268", "truncated"};
        QTest::newRow("tokenizer.bin more pieces than the model")
            << std::string("many.bin") << bin << 260
            << QStringList{"more than the model's 260 pieces"};
        std::vector<BinPiece> negative = pieces;
        negative[5].text = "";
        std::string negativeBin = llama2cBin(negative);
        const int32_t minusOne = -1;
        std::memcpy(&negativeBin[lengthFieldOffset(negative, 5)], &minusOne, 4);
        QTest::newRow("tokenizer.bin negative length")
            << std::string("negative.bin") << negativeBin << 268
            << QStringList{"piece 5", "length -1 outside 0..8"};
        std::vector<BinPiece> tooLong = pieces;
        tooLong[260].text = "abcdefghi";
        QTest::newRow("tokenizer.bin piece beyond max_token_length")
            << std::string("long.bin") << llama2cBin(tooLong) << 268
            << QStringList{"piece 260", "length 9 outside 0..8"};
        QTest::newRow("tokenizer.bin without byte pieces")
            << std::string("small.bin") << llama2cBin({{0.f, "<unk>"}, {0.f, "a"}}) << 0
            << QStringList{"only 2 pieces"};
    }

    void refusedFiles() {
        QFETCH(std::string, fileName);
        QFETCH(std::string, content);
        QFETCH(int, vocabSize);
        QFETCH(QStringList, mustSay);
        const std::string path = tempPath(fileName.c_str());
        writeFile(path, content);
        const std::string message = errorMessage([&] { gp::loadTokenizer(path, vocabSize); });
        QVERIFY2(message.rfind(path + ": ", 0) == 0, message.c_str());
        for (const QString& fragment : mustSay)
            QVERIFY2(
                message.find(fragment.toStdString()) != std::string::npos,
                qPrintable(
                    QString("\"%1\" lacks \"%2\"").arg(QString::fromStdString(message), fragment)));
    }

    void missingFileIsNamed() {
        const std::string path = tempPath("absent.json");
        const std::string message = errorMessage([&] { gp::loadTokenizerJson(path); });
        QCOMPARE(message, path + ": cannot open the file");
    }

    // loadTokenizer picks the reader by name or by content.
    void loadTokenizerDispatch() {
        const std::string jsonWithoutSuffix = tempPath("tokenizer-json-content");
        writeFile(jsonWithoutSuffix, normalizerFormJson());
        QCOMPARE(gp::loadTokenizer(jsonWithoutSuffix, 0)->vocabSize(), 287);
        // Any piece count: vocabSize 0 takes what the file holds.
        QCOMPARE(gp::loadTokenizer(tempPath("hand.bin"), 0)->vocabSize(), 268);
        QCOMPARE(gp::loadTokenizer(tempPath("sp-metaspace.json"), 0)->encode("hello"), Ids({278}));
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "tst_tokenizer.moc"
