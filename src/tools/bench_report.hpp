#pragma once
// Medians and spreads of benchmark passes, printed as a markdown table or JSON.
#include <cstddef>
#include <string>
#include <vector>

#include "bench_run.hpp"

namespace splicefs::tools {

struct Spread {
    double median = 0;
    double min = 0;
    double max = 0;
};
Spread spread(std::vector<double> values);

struct MethodRuns {
    Method method;
    std::vector<PassResult> passes;
};

struct BenchInfo {
    std::string kernel;
    long cpus = 0;
    std::size_t size = 0;
    std::size_t chunk = 0;
    int passes = 0;
    std::size_t splice_pipe = 0;  // the library's internal pipe capacity
};

std::string markdown(const BenchInfo& info, const std::vector<MethodRuns>& runs);
std::string json(const BenchInfo& info, const std::vector<MethodRuns>& runs);

}  // namespace splicefs::tools
