#pragma once
// Medians and spreads of benchmark passes, printed as a markdown table, JSON, or a gnuplot chart.
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

// One configuration and its timed passes. chunk == 0 marks the library's own default.
struct Row {
    Case c;
    std::vector<PassResult> passes;
    std::vector<double> load;  // 1-minute load average read before each pass
};

struct BenchInfo {
    std::string kernel;
    long cpus = 0;
    std::size_t size = 0;  // bytes per pass
    int passes = 0;
    std::size_t pipe_max = 0;  // /proc/sys/fs/pipe-max-size
    std::string load_start;    // /proc/loadavg before and after the run
    std::string load_end;
    double seconds = 0;  // the whole run, wall clock
};

std::string markdown(const BenchInfo& info, const std::vector<Row>& rows);
std::string json(const BenchInfo& info, const std::vector<Row>& rows);

// Writes <stem>.dat and <stem>.gp and runs gnuplot to make <stem>.png: MB/s against chunk size,
// one panel per destination. Returns false (and says why on stderr) if gnuplot is missing or fails.
bool plot(const BenchInfo& info, const std::vector<Row>& rows, const std::string& stem);

}  // namespace splicefs::tools
