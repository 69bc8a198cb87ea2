#pragma once
// Hybrid serving: one thread reads and answers requests from /dev/fuse, which keeps them on
// one warm thread with no hand-off between workers, and passes the ones that may block
// (fsync, flock, fallocate, copy_file_range; reads only above tuning's offload_read_kb, off
// by default) to a small pool, so they never stall the serving thread. Measured against
// libfuse's multi-threaded loop in the README.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace splicefs::fs {

class Offloader {
public:
    // Starts `threads` pool threads; more are added (up to max_threads) when a job arrives
    // and none is idle, so blocked flocks cannot starve the reads queued behind them.
    Offloader(unsigned threads, unsigned max_threads);
    ~Offloader();  // runs what is queued, then joins
    Offloader(const Offloader&) = delete;
    Offloader& operator=(const Offloader&) = delete;

    // Queues a job for a pool thread; false (and nothing queued) if it cannot be queued, in
    // which case the caller runs it itself.
    bool submit(std::function<void()> job) noexcept;

    // Runs everything queued so far and stops the pool; submit() refuses afterwards.
    void drain() noexcept;

private:
    void work() noexcept;

    const unsigned max_threads_;
    std::mutex mu_;  // leaf lock: guards everything below; never held while a job runs
    std::condition_variable wake_;
    std::deque<std::function<void()>> jobs_;
    unsigned idle_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> pool_;
};

}  // namespace splicefs::fs
