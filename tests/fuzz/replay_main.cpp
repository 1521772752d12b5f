// The fuzz targets without libFuzzer: a main() that feeds every file of a seed corpus, then a
// seeded, bounded number of mutations of each (bit flips, interesting bytes, inserted, deleted
// and duplicated runs, truncation, splices with another file), to the target's
// LLVMFuzzerTestOneInput. Built with the normal compiler and run by CTest in a few seconds, so a
// regression in a parser shows up in every build, not only in a fuzzing session. A crash or an
// exception other than gp::Error ends the process: the test fails, printing the input's origin.
// Seeds named valid_* must also be accepted (the engine throws no gp::Error for them), so the
// corpus checks itself: a parser that starts refusing good files fails here too.
//
//   fuzz_replay_<target> CORPUS_DIR [--mutations N] [--seed S] [--max-seconds T]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

Bytes readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// One libFuzzer-like mutation of `input`; `other` is another corpus file for splicing.
Bytes mutate(const Bytes& input, const Bytes& other, std::mt19937_64& random) {
    Bytes bytes = input;
    const auto below = [&](size_t n) { return n == 0 ? size_t(0) : size_t(random() % n); };
    const int steps = 1 + int(random() % 4);
    for (int step = 0; step < steps; ++step) {
        switch (random() % 8) {
            case 0:  // flip a bit
                if (!bytes.empty()) bytes[below(bytes.size())] ^= uint8_t(1u << (random() % 8));
                break;
            case 1: {  // an interesting byte
                static const uint8_t interesting[] = {0x00, 0x01, 0x7F, 0x80, 0xFF, '"', '{', '}',
                                                      '[',  ']',  ',',  ':',  '-',  '9', 'e', '\\'};
                if (!bytes.empty())
                    bytes[below(bytes.size())] = interesting[random() % sizeof interesting];
                break;
            }
            case 2: {  // insert random bytes
                const size_t at = below(bytes.size() + 1), count = 1 + below(8);
                Bytes run(count);
                for (uint8_t& byte : run) byte = uint8_t(random());
                bytes.insert(bytes.begin() + long(at), run.begin(), run.end());
                break;
            }
            case 3: {  // delete a run
                if (bytes.empty()) break;
                const size_t at = below(bytes.size());
                const size_t count = std::min(bytes.size() - at, 1 + below(16));
                bytes.erase(bytes.begin() + long(at), bytes.begin() + long(at + count));
                break;
            }
            case 4:  // truncate
                bytes.resize(below(bytes.size() + 1));
                break;
            case 5: {  // duplicate a run
                if (bytes.empty()) break;
                const size_t at = below(bytes.size());
                const size_t count = std::min(bytes.size() - at, 1 + below(32));
                const Bytes run(bytes.begin() + long(at), bytes.begin() + long(at + count));
                bytes.insert(bytes.begin() + long(below(bytes.size() + 1)), run.begin(), run.end());
                break;
            }
            case 6: {  // overwrite 8 bytes with a little-endian integer (lengths, offsets, dims)
                if (bytes.size() < 8) break;
                static const uint64_t values[] = {
                    0,          1,          2,          7,         8,          255,
                    0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 100000000, UINT64_MAX, uint64_t(INT64_MAX)};
                const uint64_t value = values[random() % (sizeof values / sizeof values[0])];
                const size_t at = random() % 2 ? 0 : below(bytes.size() - 7);
                std::memcpy(bytes.data() + at, &value, random() % 2 ? 8 : 4);
                break;
            }
            case 7: {  // splice with the other file
                const size_t keep = below(bytes.size() + 1), from = below(other.size() + 1);
                bytes.resize(keep);
                bytes.insert(bytes.end(), other.begin() + long(from), other.end());
                break;
            }
        }
    }
    return bytes;
}

// With GP_FUZZ_REPLAY_LAST=<file>, each input is written there before it runs, so the input of
// a crash is left behind to become a regression seed.
void keepLastInput(const Bytes& bytes) {
    static const char* path = std::getenv("GP_FUZZ_REPLAY_LAST");
    if (!path) return;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

void run(const Bytes& bytes, const std::string& origin) {
    keepLastInput(bytes);
    try {
        LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    } catch (const std::exception& error) {
        std::fprintf(stderr, "FAIL: %s: escaped exception: %s\n", origin.c_str(), error.what());
        std::exit(1);
    } catch (...) {
        std::fprintf(stderr, "FAIL: %s: escaped a non-standard exception\n", origin.c_str());
        std::exit(1);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR [--mutations N] [--seed S] [--max-seconds T]\n",
                     argv[0]);
        return 2;
    }
    const fs::path corpus = argv[1];
    long mutations = 200;
    uint64_t seed = 1;
    double maxSeconds = 20.0;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string option = argv[i];
        if (option == "--mutations")
            mutations = std::atol(argv[i + 1]);
        else if (option == "--seed")
            seed = std::strtoull(argv[i + 1], nullptr, 10);
        else if (option == "--max-seconds")
            maxSeconds = std::atof(argv[i + 1]);
        else {
            std::fprintf(stderr, "unknown option %s\n", option.c_str());
            return 2;
        }
    }
    std::vector<fs::path> files;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(corpus, error))
        if (entry.is_regular_file()) files.push_back(entry.path());
    if (files.empty()) {
        std::fprintf(stderr, "FAIL: no seed files in %s\n", corpus.string().c_str());
        return 1;
    }
    std::sort(files.begin(), files.end());
    std::vector<Bytes> seeds;
    for (const fs::path& file : files) seeds.push_back(readFile(file));

    const auto started = std::chrono::steady_clock::now();
    std::mt19937_64 random(seed);
    long runs = 0;
    std::string refusal;
    gp::fuzz::rejectionHook() = [&](const std::string& message) { refusal = message; };
    for (size_t i = 0; i < seeds.size(); ++i, ++runs) {
        refusal.clear();
        run(seeds[i], files[i].string());
        const bool mustPass = files[i].filename().string().rfind("valid_", 0) == 0;
        if (mustPass && !refusal.empty()) {
            std::fprintf(stderr, "FAIL: %s: a valid seed was refused: %s\n",
                         files[i].string().c_str(), refusal.c_str());
            return 1;
        }
        if (!mustPass && refusal.empty()) {
            std::fprintf(stderr, "FAIL: %s: a broken seed was accepted\n",
                         files[i].string().c_str());
            return 1;
        }
    }
    gp::fuzz::rejectionHook() = nullptr;
    // Mutations round-robin over the seeds until the count or the time bound is reached.
    for (long m = 0; m < mutations * long(seeds.size()); ++m, ++runs) {
        const size_t i = size_t(m) % seeds.size();
        const Bytes input = mutate(seeds[i], seeds[random() % seeds.size()], random);
        run(input, files[i].string() + " mutation " + std::to_string(m / long(seeds.size())) +
                       " (seed " + std::to_string(seed) + ")");
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (seconds > maxSeconds) break;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("%ld inputs (%zu seed files) in %.2f s, no crash\n", runs, seeds.size(), seconds);
    return 0;
}
