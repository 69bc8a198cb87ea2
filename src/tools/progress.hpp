#pragma once
// A one-line progress bar on stderr, redrawn in place; only used when stderr is a terminal.
#include <chrono>
#include <cstddef>

namespace splicefs::tools {

class ProgressBar {
public:
    explicit ProgressBar(std::size_t total) noexcept;
    void update(std::size_t done) noexcept;
    // Clears the bar so the final report starts on a clean line.
    void finish() noexcept;

private:
    std::size_t total_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_{};
    bool drawn_ = false;
};

}  // namespace splicefs::tools
