#pragma once
// Spinning before a blocking receive on /dev/fuse, for the one thread that serves it.
//
// On a VM whose idle vCPUs halt at once (no guest halt-polling), a serial client and one serving
// thread on different CPUs pay a halted vCPU's wake-up for each request, tens of microseconds
// here. Polling /dev/fuse for a short while after each reply keeps the serving CPU awake for the
// client's next request. Two rules keep it from costing what it saves:
// - the window adapts, as KVM's halt-polling does: it grows while requests come a little after
//   it ends and falls to nothing when they come rarely, so a quiet mount does not spin;
// - a spin yields the CPU at every turn and stops, and then rests for a while, as soon as a
//   yield actually ran another task (the thread's involuntary switch count moved): on a busy
//   CPU the spin would take time from the client or from other work.
// Off unless --spin-us=N asks for it (README: why it is not the default), and off even then
// with more than one thread reading /dev/fuse (the sleeping one would take the request first)
// and under the io_uring transport.
#include <cstdint>

namespace splicefs {
struct SpinCounters;
}

namespace splicefs::fs {

// The adaptive window, without clocks or syscalls (unit-tested).
class SpinWindow {
public:
    explicit SpinWindow(std::uint64_t max_ns) noexcept : max_ns_(max_ns) {}

    // How long to spin before the next receive (0 = block at once).
    [[nodiscard]] std::uint64_t window_ns() const noexcept { return resting_ > 0 ? 0 : window_ns_; }

    // One receive's outcome. `waited_ns`: from the end of the reply until a request was there,
    // spin included. `contended`: a yield during the spin ran another task.
    void record(std::uint64_t waited_ns, bool contended) noexcept;

    static constexpr std::uint64_t kStartNs = 10'000;  // first window after growing from 0
    static constexpr std::uint32_t kRestMin = 64;      // receives without spinning after contention
    static constexpr std::uint32_t kRestMax = 4096;

private:
    std::uint64_t max_ns_;
    std::uint64_t window_ns_ = 0;
    std::uint32_t resting_ = 0;  // receives left without spinning
    std::uint32_t rest_len_ = kRestMin;
};

// The serving thread's spin. before_receive() returns once `fd` has a request, the window has
// passed, or another task wants this CPU; the caller then receives (blocking if need be) and
// calls after_receive(), which feeds the outcome to the window. Each spin is counted in
// `counters` (the daemon's statistics), which must outlive this object.
class ReceiveSpin {
public:
    ReceiveSpin(std::uint64_t max_ns, SpinCounters& counters) noexcept
        : window_(max_ns), counters_(counters) {}

    void before_receive(int fd) noexcept;
    void after_receive() noexcept;

private:
    SpinWindow window_;
    SpinCounters& counters_;
    std::uint64_t started_ns_ = 0;
    bool contended_ = false;
};

}  // namespace splicefs::fs
