#include "core/train/demo_model.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/eval/perplexity.h"
#include "core/eval/token_stream.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/io/text_file.h"
#include "core/model/model_config.h"
#include "core/runtime/error.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/story_grammar.h"
#include "core/train/trainer.h"

namespace gp {
namespace {

namespace fs = std::filesystem;

constexpr const char* kEndOfText = "<|endoftext|>";

void writeTextAtomically(const fs::path& path, const std::string& text) {
    AtomicFile file(path.string());
    file.write(text.data(), text.size());
    file.commit();
}

nlohmann::json demoConfig(const DemoModelOptions& options, int32_t endOfText) {
    return {{"architectures", {"LlamaForCausalLM"}},
            {"model_type", "llama"},
            {"vocab_size", options.vocabSize},
            {"hidden_size", options.hiddenSize},
            {"intermediate_size", options.intermediateSize},
            {"num_hidden_layers", options.numLayers},
            {"num_attention_heads", options.numHeads},
            {"num_key_value_heads", options.numKvHeads},
            {"max_position_embeddings", options.contextLength},
            {"rms_norm_eps", 1e-5},
            {"rope_theta", 10000.0},
            {"hidden_act", "silu"},
            {"tie_word_embeddings", true},
            {"bos_token_id", endOfText},
            {"eos_token_id", endOfText},
            {"torch_dtype", "float32"}};
}

// Cross-entropy of a unigram model (training-token frequencies, add-one smoothed) on exactly the
// tokens the perplexity windows predict: the baseline a trained model must beat by far.
double unigramPerplexity(const std::vector<int32_t>& trainIds, const at::Tensor& windows,
                         int64_t vocabSize) {
    std::vector<double> counts(vocabSize, 1.0);
    for (int32_t id : trainIds) counts[id] += 1.0;
    const double total = double(trainIds.size()) + double(vocabSize);
    const at::Tensor predicted = windows.narrow(1, 1, windows.size(1) - 1).reshape({-1});
    const auto ids = predicted.accessor<int64_t, 1>();
    double nll = 0.0;
    for (int64_t i = 0; i < ids.size(0); ++i) nll -= std::log(counts[ids[i]] / total);
    return std::exp(nll / double(ids.size(0)));
}

}  // namespace

DemoModelReport makeDemoModel(const DemoModelOptions& options, RunObserver* observer,
                              const CancelToken* cancel) {
    const auto started = std::chrono::steady_clock::now();
    ObserverRef watch(observer);
    const fs::path out(options.outDir);
    fs::create_directories(out);

    // Three texts from three seeds: training, calibration and held-out evaluation never overlap
    // by construction (the grammar's sentences repeat, the stories do not).
    const std::string trainText = StoryGrammar(options.seed).stories(options.trainCharacters);
    const std::string calibrationText =
        StoryGrammar(options.seed + 1).stories(options.heldOutCharacters);
    const std::string evaluationText =
        StoryGrammar(options.seed + 2).stories(options.heldOutCharacters);

    watch->onLog({LogEvent::Level::Info, "training the tokenizer"});
    const std::string tokenizerJson =
        trainByteLevelBpe(trainText, options.vocabSize, {kEndOfText});
    writeTextAtomically(out / "tokenizer.json", tokenizerJson);
    const auto tokenizer = loadTokenizerJson((out / "tokenizer.json").string());
    const int32_t endOfText = tokenizer->pieceId(kEndOfText).value();

    const std::vector<int32_t> trainIds = tokenizeText(*tokenizer, trainText, {}, "training text");
    const ModelConfig config =
        parseModelConfig(demoConfig(options, endOfText).dump(), "demo config.json");
    auto model = createCausalLM(config, initialWeights(config, options.seed), "demo model");

    TrainOptions train;
    train.steps = options.steps;
    train.batchSize = options.batchSize;
    train.seqlen = options.seqlen;
    train.learningRate = options.learningRate;
    train.minLearningRate = options.learningRate / 10.0;
    train.warmupSteps = std::max<int64_t>(1, options.steps / 20);
    train.seed = options.seed;
    const TrainReport trained = trainCausalLM(*model, trainIds, train, watch, cancel);

    DemoModelReport report;
    for (const auto& [name, tensor] : model->weights()) report.parameters += tensor.numel();
    report.trainTokens = static_cast<int64_t>(trainIds.size());
    report.finalTrainLoss = trained.finalLoss;

    const std::vector<int32_t> evalIds =
        tokenizeText(*tokenizer, evaluationText, {}, "evaluation text");
    PerplexityOptions perplexity;
    perplexity.seqlen = options.seqlen;
    const at::Tensor windows = cutWindows(evalIds, perplexity.seqlen, 0, "evaluation text");
    const PerplexityResult measured = evaluatePerplexity(*model, windows, perplexity, watch, cancel);
    report.evalTokens = measured.tokens;
    report.heldOutPpl = measured.ppl;
    report.unigramPpl = unigramPerplexity(trainIds, windows, options.vocabSize);

    std::vector<std::pair<std::string, at::Tensor>> tensors(model->weights().begin(),
                                                            model->weights().end());
    writeSafetensors((out / "model.safetensors").string(), tensors, {{"format", "pt"}});
    writeTextAtomically(out / "config.json", demoConfig(options, endOfText).dump(2) + "\n");
    writeTextAtomically(out / "calibration.txt", calibrationText);
    writeTextAtomically(out / "evaluation.txt", evaluationText);
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report;
}

}  // namespace gp
