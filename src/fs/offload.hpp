#pragma once
// Hybrid serving: one thread reads and answers requests from /dev/fuse, which keeps them on
// one warm thread with no hand-off between workers, and passes the ones that may block
// (fsync, flock, fallocate, copy_file_range; reads only above tuning's offload_read_kb, off
// by default) to a small pool, so they never stall the serving thread. Measured against
// libfuse's multi-threaded loop in the README.
#include <chrono>
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

    // The same, waiting at most `limit` for the pool: false when a job is still running (a
    // flock waiting on a lock held elsewhere), whose threads are then left as they are. For a
    // worker that is about to _exit(): the kernel resends what its threads had taken.
    bool drain_for(std::chrono::milliseconds limit) noexcept;

private:
    void work() noexcept;

    const unsigned max_threads_;
    std::mutex mu_;  // leaf lock: guards everything below; never held while a job runs
    std::condition_variable wake_;
    std::condition_variable finished_cv_;
    std::deque<std::function<void()>> jobs_;
    unsigned idle_ = 0;
    unsigned finished_ = 0;  // threads that have left work()
    bool stopping_ = false;
    std::vector<std::thread> pool_;
};

}  // namespace splicefs::fs
