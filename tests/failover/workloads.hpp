#pragma once
// What runs on the mount while workers die: each workload does one round per call and
// records every failure a program would have seen, and every data check that passed, in
// Findings. A round is self-contained (it cleans up after itself), so a phase repeats rounds
// until its disruptions are done.
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "chaos.hpp"

namespace splicefs::failover {

// fio with verify=crc32c: sequential then random writes, each verified by reading back,
// then the sequential files verified again on the backing side.
void fio_round(const fs::path& mnt, const fs::path& backing, const fs::path& scratch, int round, Findings& f);

// A generated source tree (files of many sizes, symlinks, hard links, fifos, modes, mtimes),
// made once per process.
const fs::path& source_tree();
// cp -a of the source tree into the mount, compared on the backing side; tar of it back out of
// the mount, compared file by file (type, mode, size, mtime, link target, content hash).
void tree_round(const fs::path& mnt, const fs::path& backing, const fs::path& scratch, int round,
                Findings& f);
// Compares two trees; mtime to the nanosecond or to the second. Returns the entries checked.
long compare_trees(const fs::path& want, const fs::path& got, bool exact_mtime, Findings& f);

// Programs that keep files across failovers: a file kept open, an unlinked file kept open, an
// flock held (with a second open that must keep failing to take it and a blocked waiter that
// must get it only once it is released), a directory read in small steps through one handle,
// and a churn of non-idempotent operations whose replay a program would notice (create
// O_EXCL, rename, link, unlink, symlink, mkdir, rmdir, mknod, chmod, truncate, appends).
class Holders {
public:
    Holders(const fs::path& mnt, Findings& f, std::uint64_t seed);
    ~Holders();
    Holders(const Holders&) = delete;
    Holders& operator=(const Holders&) = delete;
    void round();
    // Final checks (whole contents, the lock handed over), then closes everything.
    void finish();

private:
    void data_check(int fd, std::vector<unsigned char>& model, const char* what);
    void churn();
    void append();
    void dir_step();

    fs::path mnt_;
    Findings& f_;
    std::mt19937_64 rng_;
    int held_ = -1, unlinked_ = -1, lock_ = -1, appender_ = -1;
    std::vector<unsigned char> held_model_, unlinked_model_;
    void* dir_ = nullptr;  // DIR*
    std::vector<std::string> dir_names_, dir_seen_;
    long iteration_ = 0;
    long appends_ = 0;
    std::atomic<bool> waiter_got_{false};
    std::atomic<std::int64_t> waiter_at_ns_{0};
    std::atomic<std::int64_t> released_at_ns_{0};
    std::thread waiter_;
    int waiter_fd_ = -1;
};

// Whole files written through the mount, read back and compared, then unlinked (with kernel
// passthrough this is the open/release path of the daemon around kernel-side I/O).
void stream_round(const fs::path& mnt, int round, std::uint64_t seed, Findings& f);

// One run of the POSIX differential suite's random mode (tests/posix) as a child process.
// Target() names the daemon that run mounted. The run's output goes to Findings on failure.
class PosixRuns {
public:
    PosixRuns(fs::path posix_binary, fs::path splicefs_binary, fs::path scratch);
    [[nodiscard]] Target target();
    void round(std::uint64_t seed, Findings& f);

private:
    fs::path posix_binary_, splicefs_binary_, scratch_;
    std::shared_ptr<std::atomic<pid_t>> running_ = std::make_shared<std::atomic<pid_t>>(-1);
};

}  // namespace splicefs::failover
