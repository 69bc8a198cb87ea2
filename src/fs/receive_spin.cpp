#include "fs/receive_spin.hpp"

#include "core/stats.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <ctime>

namespace splicefs::fs {

namespace {

std::uint64_t now_ns() noexcept {
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);  // vDSO: no syscall
    return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000U + static_cast<std::uint64_t>(t.tv_nsec);
}

long involuntary_switches() noexcept {
    rusage ru{};
    return ::getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : 0;
}

bool readable(int fd) noexcept {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;  // an error (the mount went away) ends the spin too
}

}  // namespace

void SpinWindow::record(std::uint64_t waited_ns, bool contended) noexcept {
    if (resting_ > 0) {
        --resting_;
        return;
    }
    if (contended) {
        resting_ = rest_len_;
        rest_len_ = std::min(rest_len_ * 2, kRestMax);
        return;
    }
    rest_len_ = kRestMin;
    if (waited_ns <= window_ns_) return;  // caught while spinning
    if (waited_ns > max_ns_) {
        // A long quiet spell: spinning would not have caught it.
        window_ns_ /= 2;
        if (window_ns_ < kStartNs) window_ns_ = 0;
    } else {
        // Would have caught it with a longer window.
        window_ns_ = std::min(max_ns_, std::max(kStartNs, window_ns_ * 2));
    }
}

void ReceiveSpin::before_receive(int fd) noexcept {
    started_ns_ = now_ns();
    contended_ = false;
    const std::uint64_t window = window_.window_ns();
    if (window == 0) return;
    const long switches = involuntary_switches();
    bool caught = false;
    while (!(caught = readable(fd))) {
        ::sched_yield();
        if (involuntary_switches() != switches) {
            contended_ = true;
            break;
        }
        if (now_ns() - started_ns_ > window) break;
    }
    counters_.windows.fetch_add(1, std::memory_order_relaxed);
    if (caught) counters_.caught.fetch_add(1, std::memory_order_relaxed);
    if (contended_) counters_.contended.fetch_add(1, std::memory_order_relaxed);
    counters_.spun_ns.fetch_add(now_ns() - started_ns_, std::memory_order_relaxed);
}

void ReceiveSpin::after_receive() noexcept {
    window_.record(now_ns() - started_ns_, contended_);
}

}  // namespace splicefs::fs
