#include "fs/inflight.hpp"

#include <unistd.h>

#include <atomic>

#include "fs/filesystem.hpp"
#include "fs/passthrough.hpp"
#include "fs/survival_area.hpp"
#include "fs/survival_mirror.hpp"

namespace splicefs::fs::inflight {

namespace {
// This thread's recorded op: the op runs on the thread that opened its Scope.
struct Current {
    survival::InflightSlot* slot = nullptr;
    Replay replay = Replay::None;
    Stats* stats = nullptr;
};
thread_local Current tl;
thread_local std::size_t tl_hint = 0;  // where this thread last found a free slot

struct FuseReqHead {  // lib/fuse_i.h, libfuse 3.x
    fuse_session* se;
    std::uint64_t unique;
};

survival::InflightSlot* find(std::span<survival::InflightSlot> slots, std::uint64_t key) noexcept {
    for (auto& s : slots)
        if (s.unique.load(std::memory_order_acquire) == key) return &s;
    return nullptr;
}

survival::InflightSlot* claim(std::span<survival::InflightSlot> slots, std::uint64_t key) noexcept {
    for (std::size_t n = 0; n < slots.size(); ++n) {
        auto& s = slots[(tl_hint + n) % slots.size()];
        std::uint64_t expected = 0;
        if (s.unique.load(std::memory_order_relaxed) == 0 &&
            s.unique.compare_exchange_strong(expected, key, std::memory_order_acq_rel)) {
            tl_hint = (tl_hint + n + 1) % slots.size();
            return &s;
        }
    }
    return nullptr;  // more requests in flight than slots: this one goes unrecorded
}

// A resent open whose first delivery made a handle: the kernel never had the reply, so it will
// never release that handle. Closed here when the fd table still holds it as that request's
// (the supervisor's sweep closes an fd that was not owned yet, and its number may be reused).
void release_unanswered_handle(Fs& fs, survival::InflightSlot& slot) noexcept {
    if (slot.handle_fd == 0 || fs.mirror == nullptr) return;
    const int fd = slot.handle_fd - 1;
    slot.handle_fd = 0;
    const auto fds = fs.mirror->area().fds();
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds.size()) return;
    if (fds[static_cast<std::size_t>(fd)].word.load(std::memory_order_acquire) != slot.handle_word) return;
    fs.drop_handle_fd(fd);
    ::close(fd);
    const auto node = survival::FdSlot::node_of(slot.handle_word);
    try {
        if (survival::FdSlot::kind_of(slot.handle_word) == survival::FdKind::File) {
            // passthrough_prepare() ran before the handle was noted: its open goes with it.
            if (const auto inode = fs.inodes.find_inode(node)) passthrough_release(fs, *inode);
        }
        if (static_cast<Op>(slot.op) == Op::Create) fs.forget(node, 1);  // the entry's lookup
    } catch (...) {
        // No memory for the lookup: the node keeps a count until unmount, as a lost FORGET does.
    }
    if (survival::FdSlot::kind_of(slot.handle_word) == survival::FdKind::Dir)
        fs.stats.open_dirs.fetch_sub(1, std::memory_order_relaxed);
    fs.stats.handles_unanswered.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

std::uint64_t unique_of(const Fs& fs, fuse_req_t req) noexcept {
    if (req == nullptr || fs.session == nullptr) return 0;
    const auto* head = reinterpret_cast<const FuseReqHead*>(req);
    return head->se == fs.session ? head->unique : 0;
}

Scope::Scope(Fs& fs, fuse_req_t req, Op op) noexcept {
    if (!fs.mirror) return;
    const auto unique = unique_of(fs, req);
    const auto key = unique & ~kResentBit;
    if (key == 0) return;
    auto& area = fs.mirror->area();
    const auto slots = area.inflight();
    const auto generation = area.header().generation.load(std::memory_order_relaxed);
    survival::InflightSlot* slot = nullptr;
    Replay replay = Replay::None;
    if ((unique & kResentBit) != 0) {
        slot = find(slots, key);
        if (slot != nullptr) {
            slot->generation.store(generation, std::memory_order_release);  // ours now
            const auto state = slot->state.load(std::memory_order_acquire);
            if (state == survival::InflightSlot::kDone && slot->error != 0) {
                answered_error_ = slot->error;  // answered as it was: the op does not run
                slot_ = slot;
                return;
            }
            release_unanswered_handle(fs, *slot);
            if (state == survival::InflightSlot::kDone) replay = Replay::Done;
            if (state == survival::InflightSlot::kStarted) replay = Replay::Started;
        }
    }
    if (slot == nullptr) {
        slot = claim(slots, key);
        if (slot == nullptr) return;
        slot->op = static_cast<std::uint32_t>(op);
        slot->error = 0;
        slot->result = 0;
        slot->handle_fd = 0;
        slot->handle_word = 0;
        slot->generation.store(generation, std::memory_order_relaxed);
    }
    // Claimed, not started: "started" is published right before the backing syscall (run(),
    // append_replay()), so that a death before it re-runs the request as a first delivery.
    slot_ = slot;
    tl = Current{slot, replay, &fs.stats};
}

Scope::~Scope() {
    // The reply has gone out (or the errno is about to): the kernel will not resend it.
    if (slot_ == nullptr) return;
    auto* slot = static_cast<survival::InflightSlot*>(slot_);
    slot->state.store(survival::InflightSlot::kFree, std::memory_order_release);
    slot->unique.store(0, std::memory_order_release);
    tl = Current{};
}

bool already_done() noexcept {
    return tl.slot != nullptr && tl.replay == Replay::Done;
}

void mark_started() noexcept {
    if (tl.slot != nullptr && tl.replay == Replay::None)
        tl.slot->state.store(survival::InflightSlot::kStarted, std::memory_order_release);
}

int settle(int err, int repeat_errno) noexcept {
    if (tl.slot == nullptr) return err;
    if (err == repeat_errno && tl.replay != Replay::None) {
        // A resend finding what its first delivery did. Certain after "done"; after "started"
        // the syscall may also never have run and the name been there before: the window.
        if (tl.replay == Replay::Started)
            tl.stats->resend_window_hits.fetch_add(1, std::memory_order_relaxed);
        err = 0;
    }
    tl.slot->error = err;
    tl.slot->state.store(survival::InflightSlot::kDone, std::memory_order_release);
    return err;
}

void note_handle(int fd, survival::FdKind kind, std::uint64_t node) noexcept {
    if (tl.slot == nullptr) return;
    tl.slot->handle_word = survival::FdSlot::pack(kind, node);
    tl.slot->handle_fd = fd + 1;
}

bool recording() noexcept {
    return tl.slot != nullptr;
}

std::optional<std::uint64_t> append_replay(std::uint64_t size_now, std::uint64_t len,
                                           std::uint64_t& already) noexcept {
    already = 0;
    if (tl.slot == nullptr) return std::nullopt;
    switch (tl.replay) {
        case Replay::Done:
            return tl.slot->result;
        case Replay::Started: {
            // The file grew since the record by what the first delivery wrote (the connection's
            // requests wait while the worker is replaced; only a writer beside the mount could
            // also have appended): all of it, or a part to complete.
            const std::uint64_t before = tl.slot->result;
            if (size_now <= before) return std::nullopt;  // not written: the record stays "before"
            tl.stats->resend_window_hits.fetch_add(1, std::memory_order_relaxed);
            if (size_now >= before + len) return len;
            already = size_now - before;
            return std::nullopt;
        }
        case Replay::None:
            break;
    }
    tl.slot->result = size_now;
    tl.slot->state.store(survival::InflightSlot::kStarted, std::memory_order_release);
    return std::nullopt;
}

void append_done(int err, std::uint64_t written) noexcept {
    if (tl.slot == nullptr) return;
    tl.slot->error = err;
    tl.slot->result = written;
    tl.slot->state.store(survival::InflightSlot::kDone, std::memory_order_release);
}

}  // namespace splicefs::fs::inflight

namespace splicefs::fs::survival {

namespace {
constexpr std::uint32_t kMaxAge = 16;
}

void age_inflight(Area& area) noexcept {
    auto& h = area.header();
    const auto now = h.generation.fetch_add(1, std::memory_order_acq_rel) + 1;
    for (auto& s : area.inflight()) {
        if (s.unique.load(std::memory_order_acquire) == 0) continue;
        // A record outlives its worker: the kernel resends its request to the next one, or,
        // if that one dies first too, to a later one. A record left by a death between the
        // reply and its release (two stores) is never asked for again: freed once it is
        // kMaxAge workers old, beyond any crash loop the supervisor tolerates.
        if (now - s.generation.load(std::memory_order_acquire) > kMaxAge) {
            s.state.store(InflightSlot::kFree, std::memory_order_release);
            s.unique.store(0, std::memory_order_release);
        }
    }
}

}  // namespace splicefs::fs::survival
