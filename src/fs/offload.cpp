#include "fs/offload.hpp"

#include <algorithm>

namespace splicefs::fs {

Offloader::Offloader(unsigned threads, unsigned max_threads)
    : max_threads_(std::max({threads, max_threads, 1U})) {
    const std::lock_guard lock(mu_);
    for (unsigned i = 0; i < std::max(threads, 1U); ++i) pool_.emplace_back([this] { work(); });
}

Offloader::~Offloader() {
    drain();
}

bool Offloader::submit(std::function<void()> job) noexcept {
    try {
        {
            const std::lock_guard lock(mu_);
            if (stopping_) return false;
            jobs_.push_back(std::move(job));
            // Every thread busy (or blocked in flock): one more, so the job does not wait.
            if (idle_ < jobs_.size() && pool_.size() < max_threads_) pool_.emplace_back([this] { work(); });
        }
        wake_.notify_one();
        return true;
    } catch (const std::exception&) {
        return false;  // out of memory or threads: the caller runs the job inline
    }
}

void Offloader::drain() noexcept {
    {
        const std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    // No thread is added once stopping_ is set, so pool_ is stable here.
    for (auto& t : pool_) {
        if (t.joinable()) t.join();
    }
}

bool Offloader::drain_for(std::chrono::milliseconds limit) noexcept {
    std::unique_lock lock(mu_);
    stopping_ = true;
    wake_.notify_all();
    if (!finished_cv_.wait_for(lock, limit, [this] { return finished_ == pool_.size(); })) return false;
    lock.unlock();
    for (auto& t : pool_) {
        if (t.joinable()) t.join();
    }
    return true;
}

void Offloader::work() noexcept {
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lock(mu_);
            ++idle_;
            wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            --idle_;
            if (jobs_.empty()) {  // stopping, and nothing left to answer
                ++finished_;
                finished_cv_.notify_all();
                return;
            }
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        job();  // an op adapter: noexcept, replies itself
    }
}

}  // namespace splicefs::fs
