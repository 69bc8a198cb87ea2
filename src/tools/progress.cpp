#include "progress.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "units.hpp"

namespace splicefs::tools {

ProgressBar::ProgressBar(std::size_t total) noexcept
    : total_(total), start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(std::size_t done) noexcept {
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    last_draw_ = now;
    drawn_ = true;
    constexpr int kWidth = 30;
    const double frac =
        total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    const auto filled = static_cast<int>(frac * kWidth);
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double mbps = secs > 0 ? static_cast<double>(done) / 1e6 / secs : 0.0;
    try {
        const std::string line = fmt::format(
            "\r[{}{}] {:3.0f}% {} / {}  {:.0f} MB/s ", std::string(static_cast<std::size_t>(filled), '#'),
            std::string(static_cast<std::size_t>(kWidth - filled), ' '), frac * 100.0,
            human_bytes(static_cast<double>(done)), human_bytes(static_cast<double>(total_)), mbps);
        // A progress bar that cannot be drawn is not worth failing the copy for.
        (void)std::fputs(line.c_str(), stderr);
        (void)std::fflush(stderr);
    } catch (...) {  // a progress bar must never abort a copy
    }
}

void ProgressBar::finish() noexcept {
    if (drawn_) (void)std::fputs("\r\033[K", stderr);
    drawn_ = false;
}

}  // namespace splicefs::tools
