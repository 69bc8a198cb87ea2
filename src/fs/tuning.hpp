#pragma once
// Data-path tuning that the INIT reply cannot express: the readahead of the mount's backing
// device info (bdi), and the knobs of the INIT negotiation with their measured defaults.
// Each default can be overridden for experiments by an environment variable (SPLICEFS_TUNE_*),
// read once at start; see the README's performance section for the measurements behind them.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace splicefs::fs::tuning {

struct Knobs {
    // Kernel readahead of the FUSE bdi in KiB (0 = leave the kernel's 128 KiB, which gives
    // 256 KiB READs). Larger windows
    // give fewer, larger READ requests for sequential reads; random reads are not affected
    // (the kernel reads only the requested pages when it sees no sequential pattern).
    // 2016 KiB = two requests of the 1008 KiB splice cap per readahead window.
    unsigned readahead_kb = 2016;
    // Background (readahead, writeback, async direct I/O) requests in flight, and the level at
    // which the bdi reports congestion; 0 = the kernel's 12 / 9 (raising them showed no
    // measurable effect here, see the README).
    unsigned max_background = 0;
    // Hybrid serving (offload.hpp): READs of at least this many KiB go to the pool, smaller
    // ones are answered on the serving thread (0 = every READ on the serving thread: measured
    // best, e.g. cold sequential read 0.43x native inline vs 0.29x with 64 KiB, see README).
    unsigned offload_read_kb = 0;
    unsigned congestion_threshold = 0;
    // Hybrid serving: threads that read and answer requests (at most one per CPU). One keeps a
    // serial client's requests on one warm thread, which a busy machine rewards (create and
    // unlink 1.3x two threads' with one CPU burner); on an idle VM whose vCPUs halt, two put one
    // thread on the client's CPU often enough for 2.2-3.5x on 4 KiB random reads after a fresh
    // mount and 1.35-1.6x on create (README "Per-request cost").
    unsigned serving_threads = 1;
};

// The knobs in effect: defaults, then SPLICEFS_TUNE_READAHEAD_KB, SPLICEFS_TUNE_MAX_BACKGROUND,
// SPLICEFS_TUNE_CONGESTION (0 = kernel default), SPLICEFS_TUNE_OFFLOAD_READ_KB,
// SPLICEFS_TUNE_SERVING_THREADS.
[[nodiscard]] const Knobs& knobs();

// "0:NN", the device of the FUSE mount at `mountpoint`, read from /proc/self/mountinfo (no
// access to the mount itself, which may not answer before INIT); nullopt if not found.
[[nodiscard]] std::optional<std::string> mount_device(const std::filesystem::path& mountpoint);

// What raises the mount's bdi readahead to `kb`; empty when there is nothing to do. It must
// run after the kernel has processed the INIT reply (which would clamp an earlier setting
// back to what the kernel offered): run_after_init() in fs.hpp runs it at the first request.
[[nodiscard]] std::function<void()> readahead_setter(const std::filesystem::path& mountpoint, unsigned kb);

}  // namespace splicefs::fs::tuning
