#include "fs/failover_hooks.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <vector>

#include "core/log.hpp"
#include "fs/failover_wire.hpp"
#include "fs/filesystem.hpp"
#include "fs/handoff.hpp"
#include "fs/passthrough_wire.hpp"

namespace splicefs::fs {

namespace {

thread_local bool tl_replayer = false;  // this thread replayed the INIT: it asks the resend

void set_text(std::array<char, 160>& out, std::string_view text) noexcept {
    const std::size_t n = std::min(text.size(), out.size() - 1);
    std::copy_n(text.begin(), n, out.begin());
    out[n] = '\0';
}

// Test-only: act as if the kernel did not offer FUSE_HAS_RESEND (the refusal path cannot be
// reached otherwise on a kernel that offers it). Not an option on purpose.
bool resend_masked_for_tests() {
    const char* v =
        std::getenv("SPLICEFS_TEST_HIDE_HAS_RESEND");  // NOLINT(concurrency-mt-unsafe): nobody sets it
    return v != nullptr && *v == '1';
}

[[noreturn]] void refuse(const std::string& why) {
    spdlog::critical("failover: {}; this worker refuses to serve", why);
    log::flush();
    ::_exit(kWorkerRefusedExit);
}

void ask_resend(Fs& fs) {
    auto& wf = fs.failover;
    if (fs.handoff->resend_offered.load(std::memory_order_relaxed) == 0) return;
    wf.counting_resent.store(true, std::memory_order_relaxed);
    const auto note = wire::resend_notification();
    if (::write(fs.session_fd.load(), note.data(), note.size()) != static_cast<ssize_t>(note.size())) {
        // Requests the dead worker had taken stay unanswered: say so loudly, keep serving.
        spdlog::error("failover: FUSE_NOTIFY_RESEND failed: {}", std::generic_category().message(errno));
    }
}

void count_resent(Fs& fs, std::span<const std::byte> bytes) noexcept {
    wire::RequestHeader h;
    if (!wire::parse_request(bytes, h) || !wire::may_be_resent(h.opcode)) return;
    if (wire::is_resent(h.unique)) {
        fs.handoff->counters.requests_resent.fetch_add(1, std::memory_order_relaxed);
    } else {
        fs.failover.counting_resent.store(false, std::memory_order_relaxed);  // resent ones come first
    }
}

void save_init_request(Fs& fs, std::span<const std::byte> bytes) {
    auto& h = *fs.handoff;
    const bool offered = wire::init_offers_resend(bytes) && !resend_masked_for_tests();
    if (!h.save_request(bytes, offered)) {
        set_text(h.counters.reason, "the INIT request is larger than the handoff record");
        spdlog::warn("failover off: the INIT request is larger than the handoff record");
        return;
    }
    if (!offered) {
        set_text(h.counters.reason, "the kernel does not offer FUSE_HAS_RESEND (Linux 6.9+)");
        spdlog::warn(
            "failover off: the kernel does not offer FUSE_HAS_RESEND (Linux 6.9+); the death of the "
            "worker ends the mount");
    }
}

}  // namespace

void attach_handoff(Fs& fs, HandoffRecord& record, const std::string& handoff_version) {
    fs.handoff = &record;
    fs.stats.failover = &record.counters;
    fs.stats.handoff_version = handoff_version;
}

void report_failover_off(Fs& fs, const std::string& reason, const std::string& handoff_version) {
    fs.stats.failover_off_reason = reason;
    fs.stats.handoff_version = handoff_version;
}

void prepare_replay(Fs& fs) noexcept {
    fs.failover.phase.store(ReplayPhase::Pending);
    fs.failover.first_reply_pending.store(true);
    fs.failover.counting_resent.store(false);
}

std::size_t before_receive_slow(Fs& fs, std::span<std::byte> buffer) {
    auto& wf = fs.failover;
    for (;;) {
        ReplayPhase p = wf.phase.load(std::memory_order_acquire);
        if (p == ReplayPhase::Serving) return 0;
        if (p == ReplayPhase::Pending && !buffer.empty() &&
            wf.phase.compare_exchange_strong(p, ReplayPhase::Replaying, std::memory_order_acq_rel)) {
            tl_replayer = true;
            const std::size_t n = wire::replay_init_request(fs.handoff->saved_request(), buffer);
            if (n == 0) refuse("the saved INIT request does not fit libfuse's buffer");
            return n;
        }
        if (p == ReplayPhase::InitAnswered && tl_replayer) {
            tl_replayer = false;
            ask_resend(fs);  // before any thread reads: nothing of ours is in flight yet
            {
                const std::lock_guard lock(wf.mu);
                wf.phase.store(ReplayPhase::Serving, std::memory_order_release);
            }
            wf.released.notify_all();
            spdlog::info("failover: worker {} serving (INIT replayed{})", ::getpid(),
                         fs.handoff->resend_offered.load() != 0 ? ", resend asked" : "");
            return 0;
        }
        std::unique_lock lock(wf.mu);
        wf.released.wait(lock, [&] { return wf.phase.load() == ReplayPhase::Serving; });
    }
}

void after_receive(Fs& fs, std::span<const std::byte> bytes) {
    if (fs.handoff == nullptr) return;
    if (fs.failover.counting_resent.load(std::memory_order_relaxed)) count_resent(fs, bytes);
    if (fs.init_pending.load(std::memory_order_relaxed) && fs.handoff->state() == InitState::Empty) {
        wire::RequestHeader h;
        if (wire::parse_request(bytes, h) && h.opcode == wire::kOpInit) save_init_request(fs, bytes);
    }
}

ssize_t receive_counting(Fs& fs, int fuse_fd, int pipe_in, std::size_t len) {
    thread_local std::vector<std::byte> buf;
    buf.resize(len);
    const ssize_t n = ::read(fuse_fd, buf.data(), len);
    if (n <= 0) return n;
    const std::span<const std::byte> bytes(buf.data(), static_cast<std::size_t>(n));
    count_resent(fs, bytes);
    // libfuse sized the pipe for a whole request, so this never waits for long.
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t w = ::write(pipe_in, bytes.data() + done, bytes.size() - done);
        if (w > 0) {
            done += static_cast<std::size_t>(w);
        } else if (w < 0 && errno == EAGAIN) {
            pollfd pfd{pipe_in, POLLOUT, 0};
            (void)::poll(&pfd, 1, -1);  // the result is re-read by the next write
        } else if (w < 0 && errno != EINTR) {
            refuse("a request read for counting could not be handed to libfuse: " +
                   std::generic_category().message(errno));
        }
    }
    return n;
}

bool on_init_reply(Fs& fs, std::span<const std::byte> reply) {
    if (fs.handoff == nullptr) return true;
    auto& h = *fs.handoff;
    if (fs.failover.phase.load() == ReplayPhase::Replaying) {
        switch (wire::compare_init_replies(h.saved_reply(), reply)) {
            case wire::InitReplyMatch::Same:
                fs.failover.phase.store(ReplayPhase::InitAnswered, std::memory_order_release);
                return false;  // the kernel has it already
            case wire::InitReplyMatch::Differs:
                refuse(
                    "the replayed INIT reply differs from the one the kernel accepted (other options "
                    "or another libfuse?)");
            case wire::InitReplyMatch::Malformed:
                refuse("no whole INIT reply to compare with the one the kernel accepted");
        }
    }
    if (h.state() == InitState::RequestSaved && !h.save_reply(reply)) {
        set_text(h.counters.reason, "the INIT reply is larger than the handoff record");
        spdlog::warn("failover off: the INIT reply is larger than the handoff record");
    }
    return true;
}

void on_init_reply_written(Fs& fs, bool ok) noexcept {
    if (fs.handoff == nullptr || fs.failover.phase.load() != ReplayPhase::Serving) return;
    auto& h = *fs.handoff;
    if (!ok || h.state() != InitState::ReplySaved) return;
    h.mark_accepted();
    h.counters.enabled.store(h.resend_offered.load(), std::memory_order_release);
}

void on_first_reply(Fs& fs) noexcept {
    if (!fs.failover.first_reply_pending.exchange(false) || fs.handoff == nullptr) return;
    const std::uint64_t start = fs.handoff->pause_start_ns.exchange(0);
    if (start == 0) return;
    const std::uint64_t now = monotonic_ns();
    const std::uint64_t us = now > start ? (now - start) / 1000 : 0;
    fs.handoff->counters.last_pause_us.store(us, std::memory_order_relaxed);
}

}  // namespace splicefs::fs
