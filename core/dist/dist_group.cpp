#include "core/dist/dist_group.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <c10/core/InferenceMode.h>
#include <torch/version.h>
#if defined(GP_DIST_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "core/dist/collectives.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

// LibTorch 2.x split the process group into a ProcessGroup over per-device Backends; Gloo and
// NCCL are Backends there and ProcessGroups in 1.x, with the same collective calls.
#if TORCH_VERSION_MAJOR >= 2
using C10dBackend = c10d::Backend;
#else
using C10dBackend = c10d::ProcessGroup;
#endif

using Millis = std::chrono::milliseconds;
constexpr Millis kBeatInterval{500};

std::string variable(const std::map<std::string, std::string>* variables, const char* name) {
    if (variables) {
        const auto found = variables->find(name);
        return found == variables->end() ? std::string() : found->second;
    }
    const char* value = std::getenv(name);
    return value ? std::string(value) : std::string();
}

int integerVariable(const std::map<std::string, std::string>* variables, const char* name,
                    int fallback, int lowest) {
    const std::string text = variable(variables, name);
    if (text.empty()) return fallback;
    try {
        size_t used = 0;
        const int value = std::stoi(text, &used);
        if (used == text.size() && value >= lowest) return value;
    } catch (const std::exception&) {
    }
    throw badArgument(name, "'" + text + "' is not an integer >= " + std::to_string(lowest));
}

std::string text(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }
std::vector<uint8_t> bytes(const std::string& value) { return {value.begin(), value.end()}; }

bool isLoopback(const std::string& host) {
    return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

}  // namespace

DistEnvironment readDistEnvironment(const std::map<std::string, std::string>* variables) {
    DistEnvironment environment;
    if (!variable(variables, "WORLD_SIZE").empty() || !variable(variables, "RANK").empty()) {
        environment.source = "torchrun";
        environment.worldSize = integerVariable(variables, "WORLD_SIZE", -1, 1);
        environment.rank = integerVariable(variables, "RANK", -1, 0);
        if (environment.worldSize < 0) throw badArgument("WORLD_SIZE", "RANK is set but WORLD_SIZE is not");
        if (environment.rank < 0) throw badArgument("RANK", "WORLD_SIZE is set but RANK is not");
        environment.localRank = integerVariable(variables, "LOCAL_RANK", environment.rank, 0);
    } else if (!variable(variables, "SLURM_NTASKS").empty()) {
        environment.source = "slurm";
        environment.worldSize = integerVariable(variables, "SLURM_NTASKS", 1, 1);
        environment.rank = integerVariable(variables, "SLURM_PROCID", 0, 0);
        environment.localRank = integerVariable(variables, "SLURM_LOCALID", 0, 0);
    } else {
        return environment;
    }
    if (environment.rank >= environment.worldSize)
        throw badArgument(environment.source == "slurm" ? "SLURM_PROCID" : "RANK",
                          std::to_string(environment.rank) + " is not below the world size " +
                              std::to_string(environment.worldSize));
    environment.masterAddr = variable(variables, "MASTER_ADDR");
    environment.masterPort = integerVariable(variables, "MASTER_PORT", 29500, 1);
    if (environment.worldSize > 1 && environment.masterAddr.empty())
        throw badArgument("MASTER_ADDR", "a job of " + std::to_string(environment.worldSize) +
                                             " ranks needs the rendezvous host (rank 0's address)");
    return environment;
}

Share shareOf(int64_t count, int rank, int worldSize) {
    const int64_t base = count / worldSize, extra = count % worldSize;
    Share share;
    share.begin = rank * base + std::min<int64_t>(rank, extra);
    share.end = share.begin + base + (rank < extra ? 1 : 0);
    return share;
}

std::vector<int64_t> shareCounts(int64_t units, int worldSize) {
    std::vector<int64_t> counts;
    for (int r = 0; r < worldSize; ++r) counts.push_back(shareOf(units, r, worldSize).size());
    return counts;
}

// The c10d objects, a heartbeat every rank writes into the store (so that a rank can tell a dead
// or stopped peer from a slow one), and the stage each rank last entered.
struct DistGroup::Impl {
    DistEnvironment environment;
    std::string backendName = "gloo";
    at::Device device = at::kCPU;  // where the backend wants the tensors
    Millis timeout{0};
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<C10dBackend> backend;
    int64_t sequence = 0;  // collectives entered, the same on every rank

    std::thread beat;
    std::mutex beatMutex;
    std::condition_variable beatWake;
    bool stopping = false;

    ~Impl() {
        {
            std::lock_guard<std::mutex> lock(beatMutex);
            stopping = true;
        }
        beatWake.notify_all();
        if (beat.joinable()) beat.join();
    }

    // Its own store connection: a TCPStore client is not shared between threads.
    void startHeartbeat() {
        c10d::TCPStoreOptions options;
        options.port = static_cast<uint16_t>(environment.masterPort);
        options.isServer = false;
        options.waitWorkers = false;
        options.timeout = Millis(5000);
        auto client = c10::make_intrusive<c10d::TCPStore>(environment.masterAddr, options);
        const std::string key = "gp/beat/" + std::to_string(environment.rank);
        client->set(key, bytes("0"));
        beat = std::thread([this, client, key] {
            int64_t count = 0;
            std::unique_lock<std::mutex> lock(beatMutex);
            while (!beatWake.wait_for(lock, kBeatInterval, [this] { return stopping; })) {
                try {
                    client->set(key, bytes(std::to_string(++count)));
                } catch (const std::exception&) {
                    return;  // the store is gone (rank 0 ended or died): the job notices itself
                }
            }
        });
    }

    // Every collective enters here: records the stage for the diagnosis, runs, and turns a
    // failure (a peer's socket closed, the timeout) into PeerLost naming whom and where.
    template <typename Work>
    void run(const std::string& stage, Work&& work) {
        ++sequence;
        try {
            store->set("gp/stage/" + std::to_string(environment.rank),
                       bytes(std::to_string(sequence) + " " + stage));
            work()->wait(timeout);
        } catch (const Error&) {
            throw;
        } catch (const std::exception& error) {
            throw lost(stage, error.what());
        }
    }

    Error lost(const std::string& stage, const std::string& cause) const;
};

Error DistGroup::Impl::lost(const std::string& stage, const std::string& cause) const {
    const int me = environment.rank, world = environment.worldSize;
    const std::string who = "rank " + std::to_string(me) + " of " + std::to_string(world);
    std::string firstLine = cause.substr(0, cause.find('\n'));
    std::vector<std::string> lostRanks, behind;
    try {
        store->setTimeout(Millis(3000));
        auto beats = [&] {
            std::vector<std::string> values;
            for (int r = 0; r < world; ++r) {
                const std::string key = "gp/beat/" + std::to_string(r);
                values.push_back(store->check({key}) ? text(store->get(key)) : "");
            }
            return values;
        };
        const std::vector<std::string> before = beats();
        std::this_thread::sleep_for(4 * kBeatInterval + Millis(500));
        const std::vector<std::string> after = beats();
        for (int r = 0; r < world; ++r) {
            if (r == me) continue;
            const std::string key = "gp/stage/" + std::to_string(r);
            const std::string where = store->check({key}) ? text(store->get(key)) : "0 start";
            const std::string theirStage = where.substr(where.find(' ') + 1);
            if (before[r] == after[r])
                lostRanks.push_back("rank " + std::to_string(r) + " (no heartbeat; last entered '" +
                                    theirStage + "')");
            else if (std::stoll(where) < sequence)
                behind.push_back("rank " + std::to_string(r) + " (alive, still before '" + stage +
                                 "', at '" + theirStage + "')");
        }
    } catch (const std::exception&) {
        // The store lives in rank 0: no answer from it means rank 0 is gone.
        if (me != 0) lostRanks.push_back("rank 0 (the rendezvous store is gone)");
    }
    std::string problem;
    if (!lostRanks.empty()) {
        problem = "lost ";
        for (size_t i = 0; i < lostRanks.size(); ++i) problem += (i ? ", " : "") + lostRanks[i];
    } else if (!behind.empty()) {
        problem = "timed out after " + std::to_string(timeout.count() / 1000) + " s waiting for ";
        for (size_t i = 0; i < behind.size(); ++i) problem += (i ? ", " : "") + behind[i];
    } else {
        problem = "a collective failed";
    }
    return Error(ErrorKind::PeerLost, "", "distributed " + who + ", stage '" + stage + "'",
                 problem + " (" + firstLine + ")");
}

DistGroup::DistGroup(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
DistGroup::~DistGroup() = default;

std::shared_ptr<DistGroup> DistGroup::fromEnvironment(const std::string& device,
                                                      double timeoutSeconds) {
    const DistEnvironment environment = readDistEnvironment();
    if (environment.worldSize <= 1) return nullptr;
    return connect(environment, device, timeoutSeconds);
}

std::shared_ptr<DistGroup> DistGroup::connect(const DistEnvironment& environment,
                                              const std::string& device, double timeoutSeconds) {
    if (!(timeoutSeconds > 0)) throw badArgument("--dist-timeout", "must be positive");
    auto impl = std::make_unique<Impl>();
    impl->environment = environment;
    impl->timeout = Millis(static_cast<int64_t>(timeoutSeconds * 1000));
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(environment.masterPort);
    options.isServer = environment.rank == 0;
    options.numWorkers = static_cast<size_t>(environment.worldSize);
    options.waitWorkers = true;
    options.timeout = impl->timeout;
    try {
        impl->store = c10::make_intrusive<c10d::TCPStore>(environment.masterAddr, options);
        impl->startHeartbeat();
        const bool cuda = device.rfind("cuda", 0) == 0;
        if (cuda) {
#if defined(GP_DIST_NCCL)
            impl->backendName = "nccl";
            impl->device = at::Device(at::kCUDA, static_cast<int8_t>(environment.localRank));
            auto nccl = c10d::ProcessGroupNCCL::Options::create();
            nccl->timeout = impl->timeout;
            impl->backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(
                impl->store, environment.rank, environment.worldSize, nccl);
#else
            throw badArgument("--device", "distributed runs on CUDA need a CUDA build of LibTorch "
                                          "with NCCL; this one has Gloo (CPU) only");
#endif
        } else {
            auto gloo = c10d::ProcessGroupGloo::Options::create(impl->timeout);
            if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"))
                gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
            else if (isLoopback(environment.masterAddr))
                gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
            else
                gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
            impl->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(
                impl->store, environment.rank, environment.worldSize, gloo);
        }
    } catch (const Error&) {
        throw;
    } catch (const std::exception& error) {
        const std::string what = error.what();
        throw Error(ErrorKind::PeerLost, "",
                    "distributed rank " + std::to_string(environment.rank) + " of " +
                        std::to_string(environment.worldSize) + ", stage 'rendezvous'",
                    "could not join the group at " + environment.masterAddr + ":" +
                        std::to_string(environment.masterPort) + " (" +
                        what.substr(0, what.find('\n')) + ")");
    }
    return std::shared_ptr<DistGroup>(new DistGroup(std::move(impl)));
}

int DistGroup::rank() const { return m_impl->environment.rank; }
int DistGroup::worldSize() const { return m_impl->environment.worldSize; }
int DistGroup::localRank() const { return m_impl->environment.localRank; }
std::string DistGroup::backend() const { return m_impl->backendName; }
double DistGroup::timeoutSeconds() const { return m_impl->timeout.count() / 1000.0; }

void DistGroup::barrier(const std::string& stage) {
    // An all-reduce of one number rather than c10d's barrier: it fails the same way and
    // waits with the same timeout on both backends.
    at::Tensor token = at::zeros({1}, at::kInt);
    allReduceSum(*this, token, stage);
}

std::vector<std::vector<double>> DistGroup::gatherNumbers(const std::vector<double>& mine,
                                                          const std::string& stage) {
    const at::Tensor row =
        at::from_blob(const_cast<double*>(mine.data()), {1, int64_t(mine.size())}, at::kDouble)
            .clone();
    const at::Tensor all =
        gatherRows(*this, row, std::vector<int64_t>(size_t(worldSize()), 1), stage).contiguous();
    std::vector<std::vector<double>> rows;
    for (int64_t r = 0; r < all.size(0); ++r) {
        const double* values = all[r].data_ptr<double>();
        rows.emplace_back(values, values + all.size(1));
    }
    return rows;
}

// ---- collectives.h ----

at::Tensor gatherRows(DistGroup& group, const at::Tensor& mine, const std::vector<int64_t>& counts,
                      const std::string& stage) {
    DistGroup::Impl& impl = group.impl();
    // The backend's threads write into these buffers: they must not be inference tensors.
    c10::InferenceMode normalTensors(false);
    const int64_t most = *std::max_element(counts.begin(), counts.end());
    // All-gather takes equal shapes: pad every rank's rows to the largest share.
    std::vector<int64_t> shape = mine.sizes().vec();
    shape[0] = most;
    at::Tensor padded = at::zeros(shape, mine.options().device(impl.device));
    if (mine.size(0) > 0) padded.narrow(0, 0, mine.size(0)).copy_(mine);
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (size_t r = 0; r < counts.size(); ++r) outputs[0].push_back(at::empty_like(padded));
    std::vector<at::Tensor> inputs{padded};
    impl.run(stage, [&] { return impl.backend->allgather(outputs, inputs); });
    std::vector<at::Tensor> rows;
    for (size_t r = 0; r < counts.size(); ++r) rows.push_back(outputs[0][r].narrow(0, 0, counts[r]));
    return at::cat(rows).to(mine.device());
}

at::Tensor windowsShare(const DistGroup* group, const at::Tensor& windows, int64_t batchSize) {
    if (!group) return windows;
    const int64_t count = windows.size(0);
    const Share share = batchShare(group, (count + batchSize - 1) / batchSize);
    return windows.slice(0, std::min(count, share.begin * batchSize),
                         std::min(count, share.end * batchSize));
}

void maximumAcrossRanks(DistGroup* group, std::vector<at::Tensor>& maxima,
                        const std::string& stage) {
    if (!group || maxima.empty()) return;
    std::vector<at::Tensor> flat;
    for (const at::Tensor& maximum : maxima) flat.push_back(maximum.reshape({-1}).to(at::kFloat));
    at::Tensor all = at::cat(flat);
    allReduceMaximum(*group, all, stage);
    int64_t offset = 0;
    for (at::Tensor& maximum : maxima) {
        maximum.copy_(all.narrow(0, offset, maximum.numel()).view(maximum.sizes()));
        offset += maximum.numel();
    }
}

double sumInBatchOrder(DistGroup* group, const std::vector<double>& mine, int64_t batches,
                       const std::string& stage) {
    at::Tensor values =
        at::from_blob(const_cast<double*>(mine.data()), {int64_t(mine.size())}, at::kDouble);
    if (group) values = gatherRows(*group, values, shareCounts(batches, group->worldSize()), stage);
    values = values.contiguous();
    double total = 0.0;
    for (int64_t b = 0; b < values.numel(); ++b) total += values.data_ptr<double>()[b];
    return total;
}

namespace {

void allReduce(DistGroup& group, at::Tensor& values, c10d::ReduceOp::RedOpType op,
               const std::string& stage) {
    DistGroup::Impl& impl = group.impl();
    // Gloo reduces fp32/fp64/integers; fp16/bf16 travel as fp32 (a max is exact in either).
    const bool widen = values.scalar_type() == at::kHalf || values.scalar_type() == at::kBFloat16;
    std::vector<at::Tensor> tensors;
    {
        c10::InferenceMode normalTensors(false);  // the backend's threads write into it
        tensors.push_back(
            values.to(impl.device, widen ? at::kFloat : values.scalar_type()).contiguous().clone());
    }
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp(op);
    impl.run(stage, [&] { return impl.backend->allreduce(tensors, options); });
    values.copy_(tensors[0]);
}

}  // namespace

void allReduceMaximum(DistGroup& group, at::Tensor& values, const std::string& stage) {
    allReduce(group, values, c10d::ReduceOp::MAX, stage);
}

void allReduceSum(DistGroup& group, at::Tensor& values, const std::string& stage) {
    allReduce(group, values, c10d::ReduceOp::SUM, stage);
}

}  // namespace gp
