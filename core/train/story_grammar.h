// A seeded grammar of simple children's stories: characters, places, objects and events combined
// into short stories with a beginning, a problem and an ending. It produces the built-in demo
// model's training, calibration and held-out evaluation text, so no downloaded data is needed.
// The random source is std::mt19937_64 (fully specified by the standard) with our own range
// reduction, so the same seed gives the same text on every platform.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace gp {

class StoryGrammar {
public:
    explicit StoryGrammar(uint64_t seed);

    std::string story();                     // one story, several sentences, ends with "\n"
    std::string stories(int64_t characters);  // stories separated by a blank line, >= characters

private:
    size_t pick(size_t count);  // uniform in [0, count)
    const std::string& pickFrom(const std::vector<std::string>& words);
    bool chance(int percent);

    std::mt19937_64 m_random;
};

}  // namespace gp
