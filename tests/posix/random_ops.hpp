#pragma once
// Seeded random operation sequences over a small namespace, and a shrinker that cuts a
// diverging sequence down to a minimal one.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "recorder.hpp"

namespace posixtest {

struct RandomOp {
    int kind = 0;
    int a = 0;  // path index or slot
    int b = 0;  // second path index or slot
    long x = 0;
    long y = 0;
};

std::vector<RandomOp> generate_ops(std::uint64_t seed, std::size_t count);

// Runs ops in order; step_of_op (if given) receives, per op, the trace size before it ran.
void run_ops(Recorder& r, const std::vector<RandomOp>& ops, std::vector<std::size_t>* step_of_op = nullptr);

// A C++-like line for the reproduction print-out.
std::string describe(const RandomOp& op);

// Delta debugging: the smallest subsequence (1-minimal up to `budget` trials) for which
// `fails` still holds.
std::vector<RandomOp> shrink(std::vector<RandomOp> ops,
                             const std::function<bool(const std::vector<RandomOp>&)>& fails, int budget);

}  // namespace posixtest
