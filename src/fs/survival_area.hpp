#pragma once
// The survival area: the state a worker keeps that must outlive it (see docs/design.md §2).
// One memfd mapped MAP_SHARED by the supervisor before its first worker; every worker (a
// clone of the supervisor without CLONE_VM) inherits the mapping at the same address, and an
// upgraded supervisor maps it again from the inherited fd (adopt()).
//
// Crash consistency: a worker may die at any instruction. Every record is filled first and
// published last by one release store of a single word; recovery reads only published
// words. No locks live here (a dead worker could hold one), and no pointers (offsets and
// indices only): the sections are fixed arrays at offsets the header names. The memfd is
// sparse, so generous sizes cost only the pages that are touched.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/stats.hpp"
#include "sys/fd.hpp"

namespace splicefs::fs::survival {

// What `splicefs --handoff-version` prints: a new binary may adopt an area only of this format.
// `splicefs upgrade` compares only this number before the exec, and an area the new binary
// cannot adopt after it costs the mount: any change to the layout (Stats included) must bump
// it. survival_area.cpp pins the sizes it stands for.
inline constexpr std::uint32_t kFormatVersion = 4;

// A known inode (InodeTable entry). Published by `state`; nlookup 0 means forgotten.
struct NodeSlot {
    static constexpr std::size_t kHandleMax = 136;  // sizeof(file_handle) + MAX_HANDLE_SZ
    std::atomic<std::uint32_t> state;               // kFree or kLive (release store publishes)
    std::uint32_t type;                             // S_IFMT bits
    std::uint64_t id;
    std::uint64_t dev;
    std::uint64_t ino;
    std::atomic<std::uint64_t> nlookup;
    // Kernel passthrough: backing id (low 32 bits) and opens sharing it (high 32), one word.
    // A negative id is one being closed: the next worker closes it again (ENOENT if done).
    std::atomic<std::uint64_t> passthrough;
    std::atomic<std::uint32_t> pinned;
    std::uint32_t handle_len;  // 0: the file has no handle
    unsigned char handle[kHandleMax];
    static constexpr std::uint32_t kFree = 0;
    static constexpr std::uint32_t kLive = 0x4c495645;  // "LIVE": not a stray zeroed word
};

// What an fd number of the shared fd table holds for us, one word per fd: the kind in the
// top 8 bits, the node id below. Zero: not ours (the supervisor's sweep may close it).
enum class FdKind : std::uint8_t { None = 0, Path = 1, File = 2, Dir = 3 };
struct FdSlot {
    std::atomic<std::uint64_t> word;
    static constexpr std::uint64_t pack(FdKind kind, std::uint64_t node) noexcept {
        return (static_cast<std::uint64_t>(kind) << 56) | (node & ((std::uint64_t{1} << 56) - 1));
    }
    static constexpr FdKind kind_of(std::uint64_t w) noexcept { return static_cast<FdKind>(w >> 56); }
    static constexpr std::uint64_t node_of(std::uint64_t w) noexcept {
        return w & ((std::uint64_t{1} << 56) - 1);
    }
};

// A non-idempotent request in flight, keyed by the kernel's unique without the resend bit
// (inflight.hpp). Claimed by a CAS of `unique` from 0, then published by `state`.
struct InflightSlot {
    std::atomic<std::uint64_t> unique;      // 0: free
    std::atomic<std::uint32_t> state;       // kFree, kStarted (before the syscall), kDone (after)
    std::atomic<std::uint32_t> generation;  // the worker that last owned it (Header::generation)
    std::uint32_t op;                       // splicefs::Op
    std::int32_t error;                     // the backing syscall's errno (0: success), with kDone
    std::uint64_t result;                   // appending writes: file size before, then bytes written
    // Opens (OPEN, CREATE, OPENDIR): the handle made for the request before its reply, as
    // fd number + 1 (0: none yet) and the fd word it was owned with (FdSlot::pack).
    std::int32_t handle_fd;
    std::uint32_t reserved;
    std::uint64_t handle_word;
    static constexpr std::uint32_t kFree = 0;
    static constexpr std::uint32_t kStarted = 1;
    static constexpr std::uint32_t kDone = 2;
};

struct Header {
    static constexpr std::uint64_t kMagic = 0x5652555345434c50ULL;  // "PLCESURV"
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t stats_size;  // sizeof(Stats) of the writer: a different layout refuses adopt
    std::uint64_t total_size;
    std::uint64_t stats_offset;
    std::uint64_t nodes_offset;
    std::uint64_t fds_offset;
    std::uint64_t inflight_offset;
    std::uint32_t max_nodes;
    std::uint32_t max_fds;
    std::uint32_t max_inflight;
    std::atomic<std::uint32_t> backing_id_high;  // the highest backing id ever recorded
    std::atomic<std::uint64_t> next_node_id;     // ids never repeat across workers
    std::atomic<std::uint32_t> node_high_water;  // slots at or above were never used
    std::atomic<std::uint32_t> generation;       // workers attached so far (in-flight records' age)
    std::atomic<std::uint32_t> fd_high_water;    // above every fd number ever recorded (scans stop)
    std::atomic<std::uint32_t> ready;            // set last by create()
};

class Area {
public:
    // Supervisor, before the first worker: a fresh area for fds below max_fds (RLIMIT_NOFILE).
    [[nodiscard]] static Area create(std::size_t max_fds);
    // A new supervisor after an upgrade exec: maps the inherited memfd (takes ownership).
    // Throws std::runtime_error when it is not an area of this format.
    [[nodiscard]] static Area adopt(int memfd);

    Area(Area&& other) noexcept;
    Area& operator=(Area&& other) noexcept;
    Area(const Area&) = delete;
    Area& operator=(const Area&) = delete;
    ~Area();

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    // The mount's counters, placed in the area so that they survive workers.
    [[nodiscard]] Stats& stats() const noexcept;

    [[nodiscard]] Header& header() const noexcept { return *reinterpret_cast<Header*>(base_); }
    [[nodiscard]] std::span<NodeSlot> nodes() const noexcept;
    [[nodiscard]] std::span<FdSlot> fds() const noexcept;
    // The fd words that were ever used (up to the high-water mark): what scans read.
    [[nodiscard]] std::span<FdSlot> used_fds() const noexcept;
    [[nodiscard]] std::span<InflightSlot> inflight() const noexcept;

private:
    Area(sys::UniqueFd fd, void* base, std::size_t size) noexcept;
    void unmap() noexcept;

    sys::UniqueFd fd_;
    void* base_ = nullptr;
    std::size_t size_ = 0;
    bool owns_stats_ = false;  // this process constructed the Stats' strings (destroys them)
};

}  // namespace splicefs::fs::survival
