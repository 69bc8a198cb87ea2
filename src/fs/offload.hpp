#pragma once
// Hybrid serving: one thread reads and answers requests from /dev/fuse, which keeps the
// short ones (lookups, attributes, small reads and writes) on one warm thread with no
// hand-off, and passes the ones that move a lot of data or may block (large reads, fsync,
// flock, fallocate, copy_file_range) to a small pool, so they run in parallel and never
// stall the reader. Measured against libfuse's multi-threaded loop in the README.
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
    explicit Offloader(unsigned threads);
    ~Offloader();  // runs what is queued, then joins
    Offloader(const Offloader&) = delete;
    Offloader& operator=(const Offloader&) = delete;

    // Queues a job for a pool thread; false (and nothing queued) if it cannot be queued, in
    // which case the caller runs it itself.
    bool submit(std::function<void()> job) noexcept;

    // Runs everything queued so far and stops the pool; submit() refuses afterwards.
    void drain() noexcept;

    [[nodiscard]] unsigned threads() const noexcept { return threads_; }

private:
    void work() noexcept;

    const unsigned threads_;
    std::mutex mu_;  // leaf lock: guards jobs_ and stopping_; never held while a job runs
    std::condition_variable wake_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::vector<std::thread> pool_;
};

}  // namespace splicefs::fs
