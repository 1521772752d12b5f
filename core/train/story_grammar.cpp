#include "core/train/story_grammar.h"


namespace gp {
namespace {

struct Hero {
    std::string name;
    std::string kind;     // "girl", "boy", "cat", ...
    std::string subject;  // "she", "he", "it"
    std::string object;   // "her", "him", "it"
    std::string possessive;
};

const std::vector<std::string> kGirlNames = {"Lily", "Mia", "Sue", "Anna", "Lucy", "Emma",
                                             "Zoe", "Amy", "Kate", "Rose", "Ella", "Sara"};
const std::vector<std::string> kBoyNames = {"Tom", "Ben", "Sam", "Max", "Leo", "Jack",
                                            "Tim", "Dan", "Joe", "Finn", "Alex", "Noah"};
const std::vector<std::string> kAnimals = {"cat", "dog", "bunny", "bird", "frog",
                                           "duck", "bear", "fox", "mouse", "owl"};
const std::vector<std::string> kAnimalNames = {"Spot", "Fluffy", "Max", "Bella", "Pip",
                                               "Coco", "Benny", "Daisy", "Rusty", "Tiny"};
const std::vector<std::string> kTraits = {"little", "kind", "happy", "brave", "curious",
                                          "small", "shy", "funny", "clever", "gentle"};
const std::vector<std::string> kPlaces = {"the park", "the forest", "the garden", "the beach",
                                          "the farm", "the lake", "the hill", "the town",
                                          "the meadow", "the river", "the zoo", "the school"};
const std::vector<std::string> kHomes = {"a small house", "a big house", "a cozy home",
                                         "a little hut", "a red house", "a tall tree"};
const std::vector<std::string> kObjects = {"ball", "kite", "box", "hat", "toy car", "book",
                                           "flower", "stick", "shell", "cake", "apple",
                                           "balloon", "key", "boat", "blanket", "drum"};
const std::vector<std::string> kColors = {"red", "blue", "yellow", "green", "shiny", "big",
                                          "soft", "pretty", "old", "tiny", "bright"};
const std::vector<std::string> kActivities = {"play", "run", "jump", "sing", "dance", "draw",
                                              "read", "swim", "climb trees", "look at the sky"};
const std::vector<std::string> kFeelings = {"happy", "sad", "scared", "excited", "tired",
                                            "surprised", "proud", "worried", "angry"};
const std::vector<std::string> kFriends = {"mom", "dad", "grandma", "grandpa", "friend",
                                           "sister", "brother", "teacher", "neighbor"};
const std::vector<std::string> kWeather = {"sunny", "warm", "cold", "windy", "rainy", "bright"};
const std::vector<std::string> kMorals = {
    "sharing is good", "it is important to be kind", "friends help each other",
    "it is good to say sorry", "being brave is good", "we should listen to our parents",
    "it is fun to try new things", "it is good to be careful"};

std::string capitalised(std::string text) {
    if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = char(text[0] - 'a' + 'A');
    return text;
}

std::string withArticle(const std::string& noun) {
    const char first = noun.empty() ? 'x' : noun[0];
    const bool vowel = first == 'a' || first == 'e' || first == 'i' || first == 'o' || first == 'u';
    return (vowel ? "an " : "a ") + noun;
}

}  // namespace

StoryGrammar::StoryGrammar(uint64_t seed) : m_random(seed) {}

size_t StoryGrammar::pick(size_t count) { return static_cast<size_t>(m_random() % count); }

const std::string& StoryGrammar::pickFrom(const std::vector<std::string>& words) {
    return words[pick(words.size())];
}

bool StoryGrammar::chance(int percent) { return static_cast<int>(pick(100)) < percent; }

std::string StoryGrammar::story() {
    Hero hero;
    switch (pick(3)) {
        case 0: hero = {pickFrom(kGirlNames), "girl", "she", "her", "her"}; break;
        case 1: hero = {pickFrom(kBoyNames), "boy", "he", "him", "his"}; break;
        default: hero = {pickFrom(kAnimalNames), pickFrom(kAnimals), "it", "it", "its"};
    }
    const std::string She = capitalised(hero.subject);
    const std::string His = capitalised(hero.possessive);
    const std::string place = pickFrom(kPlaces);
    const std::string object = pickFrom(kObjects);
    const std::string color = pickFrom(kColors);
    const std::string friendName = chance(50) ? pickFrom(kGirlNames) : pickFrom(kBoyNames);
    const std::string helper = pickFrom(kFriends);
    const std::string animal = pickFrom(kAnimals);
    const std::string feeling = pickFrom(kFeelings);

    // A story is three paragraphs of sentences; each paragraph is one line.
    std::vector<std::string> beginning, middle, ending;
    switch (pick(4)) {
        case 0:
            beginning.push_back("Once upon a time, there was " + withArticle(pickFrom(kTraits)) +
                                " " + hero.kind + " named " + hero.name + ".");
            break;
        case 1:
            beginning.push_back("One " + pickFrom(kWeather) + " day, " +
                                withArticle(pickFrom(kTraits)) + " " + hero.kind + " named " +
                                hero.name + " went to " + place + ".");
            break;
        case 2:
            beginning.push_back(hero.name + " was " + withArticle(pickFrom(kTraits)) + " " +
                                hero.kind + " who lived in " + pickFrom(kHomes) + ".");
            break;
        default:
            beginning.push_back("There once was " + withArticle(hero.kind) + " called " +
                                hero.name + ". " + She + " was " + std::to_string(3 + pick(7)) +
                                " years old.");
    }
    beginning.push_back(She + " loved to " + pickFrom(kActivities) + " in " + place + ".");
    if (chance(40)) beginning.push_back("The sky was " + pickFrom(kColors) + " and the day was " +
                                        pickFrom(kWeather) + ".");
    if (chance(30)) beginning.push_back(His + " best friend was " + friendName + ".");

    const int events = 1 + int(pick(2));
    for (int event = 0; event < events; ++event) {
        switch (pick(6)) {
            case 0:
                middle.push_back("One day, " + hero.name + " found " +
                                 withArticle(color + " " + object) + " under a tree.");
                middle.push_back(She + " was very " + feeling + ".");
                middle.push_back(She + " wanted to show it to " + hero.possessive + " " + helper +
                                 ".");
                break;
            case 1:
                middle.push_back(hero.name + " had " + withArticle(color + " " + object) + ".");
                middle.push_back("But one day, the " + object + " was gone.");
                middle.push_back(She + " felt " + feeling + " and looked everywhere.");
                break;
            case 2:
                middle.push_back("At " + place + ", " + hero.name + " met " +
                                 withArticle(pickFrom(kTraits) + " " + animal) + ".");
                middle.push_back("The " + animal + " was stuck and could not get out.");
                middle.push_back(hero.name + " said, \"Do not worry, I will help you!\"");
                break;
            case 3:
                middle.push_back(hero.name + " and " + friendName + " wanted to play with the " +
                                 color + " " + object + ".");
                middle.push_back("They both wanted it at the same time, and they started to fight.");
                break;
            case 4:
                middle.push_back(hero.name + " counted " + std::to_string(2 + pick(8)) + " " +
                                 pickFrom(kColors) + " " + object + "s in " + place + ".");
                middle.push_back("\"Look, " + helper + "!\" " + hero.subject + " said. \"I can " +
                                 pickFrom(kActivities) + " with them!\"");
                break;
            default:
                middle.push_back("It started to rain, and " + hero.name + " was " + feeling +
                                 ".");
                middle.push_back(She + " ran to " + pickFrom(kHomes) + " near " + place + ".");
        }
    }

    switch (pick(5)) {
        case 0:
            ending.push_back(His + " " + helper + " came to help. Together they fixed everything.");
            ending.push_back(hero.name + " smiled and said, \"Thank you!\"");
            break;
        case 1:
            ending.push_back("Then " + hero.name + " had an idea. " + She + " shared the " +
                             object + " with " + friendName + ".");
            ending.push_back("They played together all day and had lots of fun.");
            break;
        case 2:
            ending.push_back("After a while, " + hero.name + " found the " + object + " near " +
                             place + ".");
            ending.push_back(She + " was so " + pickFrom(kFeelings) + ".");
            break;
        case 3:
            ending.push_back(hero.name + " said sorry to " + friendName + ", and " + friendName +
                             " gave " + hero.object + " a big hug.");
            break;
        default:
            ending.push_back("When the sun went down, " + hero.name + " went home to " +
                             pickFrom(kHomes) + ".");
            ending.push_back(She + " told " + hero.possessive + " " + helper +
                             " about the " + object + ".");
    }
    if (chance(60))
        ending.push_back(hero.name + " learned that " + pickFrom(kMorals) + ".");
    else
        ending.push_back("From that day on, " + hero.name + " was always " + pickFrom(kFeelings) +
                         ".");

    std::string text;
    for (const auto* paragraph : {&beginning, &middle, &ending}) {
        for (size_t i = 0; i < paragraph->size(); ++i) text += (i ? " " : "") + (*paragraph)[i];
        text += "\n";
    }
    return text;
}

std::string StoryGrammar::stories(int64_t characters) {
    std::string text;
    while (static_cast<int64_t>(text.size()) < characters) {
        if (!text.empty()) text += "\n";
        text += story();
    }
    return text;
}

}  // namespace gp
