// The BPE merge loop shared by Hugging Face BPE (priority = merge rank) and llama2.c (priority =
// minus the merged piece's score): repeatedly merge the adjacent pair with the best (lowest)
// priority, the leftmost one on ties, until no pair can merge. A heap over a linked list makes
// it O(n log n), so a whole document given as one word (SentencePiece style without
// pre-tokenization) stays fast; the result equals the quadratic rescan of llama2.c's run.c and
// Hugging Face's Word::merge_all. INTERNAL to the tokenizer.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

namespace gp {

struct PairMerge {
    double priority = 0.0;  // lower merges first
    int32_t mergedId = 0;
};

// findMerge(left, right) -> std::optional<PairMerge>.
template <class FindMerge>
void mergeAdjacentPairs(std::vector<int32_t>& ids, const FindMerge& findMerge) {
    const auto n = static_cast<int32_t>(ids.size());
    if (n < 2) return;
    std::vector<int32_t> next(n), prev(n);
    // A node's version changes whenever its id changes or it is removed, so a queued candidate
    // that refers to an old state of either side is recognised and dropped.
    std::vector<uint32_t> version(n, 0);
    for (int32_t i = 0; i < n; ++i) next[i] = i + 1 < n ? i + 1 : -1, prev[i] = i - 1;

    struct Candidate {
        double priority;
        int32_t left, right;
        uint32_t leftVersion, rightVersion;
        int32_t mergedId;
    };
    // Positions never reorder, so the original index of the left node orders pairs left to right.
    const auto later = [](const Candidate& a, const Candidate& b) {
        if (a.priority != b.priority) return a.priority > b.priority;
        return a.left > b.left;
    };
    std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
    const auto consider = [&](int32_t left, int32_t right) {
        if (const std::optional<PairMerge> merge = findMerge(ids[left], ids[right]))
            queue.push(
                {merge->priority, left, right, version[left], version[right], merge->mergedId});
    };
    for (int32_t i = 0; i + 1 < n; ++i) consider(i, i + 1);

    while (!queue.empty()) {
        const Candidate top = queue.top();
        queue.pop();
        if (version[top.left] != top.leftVersion || version[top.right] != top.rightVersion)
            continue;
        ids[top.left] = top.mergedId;
        ++version[top.left];
        ++version[top.right];  // removed
        const int32_t after = next[top.right];
        next[top.left] = after;
        if (after >= 0) prev[after] = top.left;
        if (prev[top.left] >= 0) consider(prev[top.left], top.left);
        if (after >= 0) consider(top.left, after);
    }
    // Node 0 is never removed (only right-hand nodes are), so the list starts there.
    int32_t kept = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) ids[kept++] = ids[i];
    ids.resize(kept);
}

}  // namespace gp
