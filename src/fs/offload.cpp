#include "fs/offload.hpp"

#include <spdlog/spdlog.h>

#include <system_error>

namespace splicefs::fs {

Offloader::Offloader(unsigned threads) : threads_(threads == 0 ? 1 : threads) {
    pool_.reserve(threads_);
    for (unsigned i = 0; i < threads_; ++i) pool_.emplace_back([this] { work(); });
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
        }
        wake_.notify_one();
        return true;
    } catch (const std::exception&) {
        return false;  // out of memory: the caller runs the job inline
    }
}

void Offloader::drain() noexcept {
    {
        const std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : pool_) {
        if (t.joinable()) t.join();
    }
}

void Offloader::work() noexcept {
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lock(mu_);
            wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping, and nothing left to answer
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        job();  // an op adapter: noexcept, replies itself
    }
}

}  // namespace splicefs::fs
