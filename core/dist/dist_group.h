// A distributed run's process group (torch.distributed's c10d): the ranks of one job found from
// the environment torchrun and SLURM set, a TCPStore rendezvous, Gloo on CPUs and NCCL on GPUs
// (CUDA builds). With no such variables there is no group and nothing changes. Plain C++: the
// c10d types stay in dist_group.cpp; the collective steps on tensors are in collectives.h.
//
// Every collective names a stage; a rank that dies or hangs makes the others throw an Error of
// kind PeerLost naming the lost rank and the stage, within the group's timeout. Called from the
// thread that runs the job (one collective at a time, the same order on every rank).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gp {

// Where this process sits in a job, as the launcher described it.
struct DistEnvironment {
    int rank = 0;
    int worldSize = 1;
    int localRank = 0;
    std::string masterAddr;  // the rendezvous host (rank 0's TCPStore)
    int masterPort = 29500;
    std::string source;      // "torchrun" (RANK, WORLD_SIZE, ...), "slurm" or "" (none)
};

// torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT; else SLURM's SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID with MASTER_ADDR/MASTER_PORT. `variables` stands in for the
// process environment (tests). BadArgument naming the variable when one is malformed or a
// needed one is missing.
DistEnvironment readDistEnvironment(const std::map<std::string, std::string>* variables = nullptr);

class DistGroup {
public:
    // Joins the group the environment describes; null when it describes none (or one rank).
    // `device` "cpu" gives Gloo, "cuda"/"cuda:N" NCCL (CUDA builds; each rank on cuda:LOCAL_RANK).
    static std::shared_ptr<DistGroup> fromEnvironment(const std::string& device,
                                                      double timeoutSeconds);
    static std::shared_ptr<DistGroup> connect(const DistEnvironment& environment,
                                              const std::string& device, double timeoutSeconds);
    ~DistGroup();
    DistGroup(const DistGroup&) = delete;
    DistGroup& operator=(const DistGroup&) = delete;

    int rank() const;
    int worldSize() const;
    int localRank() const;
    std::string backend() const;  // "gloo" | "nccl"
    double timeoutSeconds() const;

    // Returns when every rank has reached `stage`; PeerLost otherwise.
    void barrier(const std::string& stage);
    // Every rank's numbers (the same count from each), in rank order: row r is rank r's.
    std::vector<std::vector<double>> gatherNumbers(const std::vector<double>& mine,
                                                   const std::string& stage);

    struct Impl;  // c10d state; defined in dist_group.cpp
    Impl& impl() const { return *m_impl; }

private:
    explicit DistGroup(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// The contiguous share [begin, end) of `count` units (batches, blocks) that rank `rank` of
// `worldSize` owns: the first count % worldSize ranks take one more. Every rank computes every
// share the same way, so nobody needs to be told.
struct Share {
    int64_t begin = 0;
    int64_t end = 0;
    int64_t size() const { return end - begin; }
};
Share shareOf(int64_t count, int rank, int worldSize);

}  // namespace gp
