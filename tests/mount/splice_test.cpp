// The evidence that data moves kernel-side: after a 64 MiB write and a cache-cold read in
// 1 MiB syscalls, the daemon's counters show >= 99% spliced bytes with splice on, 0 with
// it off, and the per-direction switches only turn off their own direction.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

#include "mount_fixture.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

constexpr std::size_t kMiB = 1 << 20;
constexpr std::size_t kTotal = 64 * kMiB;

struct Expect {
    bool reads_spliced;
    bool writes_spliced;
};

void write_big(const fs::path& p, const Bytes& data) {
    Fd fd = open_fd(p, O_WRONLY | O_CREAT | O_TRUNC);
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    for (std::size_t off = 0; off < data.size(); off += kMiB) {
        const ssize_t w = write(fd.get(), data.data() + off, kMiB);
        ASSERT_EQ(w, static_cast<ssize_t>(kMiB)) << std::strerror(errno);
    }
    ASSERT_EQ(fsync(fd.get()), 0) << std::strerror(errno);
    ASSERT_EQ(close(fd.release()), 0) << std::strerror(errno);
}

void read_big_and_compare(const fs::path& p, const Bytes& data) {
    const Fd fd = open_fd(p, O_RDONLY);
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    Bytes buf(kMiB);
    std::size_t off = 0;
    for (;;) {
        const ssize_t r = read(fd.get(), buf.data(), buf.size());
        ASSERT_GE(r, 0) << std::strerror(errno);
        if (r == 0) break;
        ASSERT_LE(off + static_cast<std::size_t>(r), data.size());
        ASSERT_EQ(std::memcmp(buf.data(), data.data() + off, static_cast<std::size_t>(r)), 0) << "at " << off;
        off += static_cast<std::size_t>(r);
    }
    EXPECT_EQ(off, data.size());
}

void expect_direction(const Transfer& t, bool spliced, const char* what, const std::string& json) {
    SCOPED_TRACE(what);
    // The figures, for the record (ctest -V / --output-on-failure shows them).
    std::cout << "[ evidence ] " << what << ": " << t.spliced_bytes << " bytes spliced in "
              << t.spliced_requests << " requests, " << t.copied_bytes << " bytes copied in "
              << t.copied_requests << " requests\n";
    EXPECT_GE(t.total_bytes(), kTotal) << json;
    if (spliced) {
        const double share = t.total_bytes() == 0 ? 0.0
                                                  : static_cast<double>(t.spliced_bytes) /
                                                        static_cast<double>(t.total_bytes());
        EXPECT_GE(share, 0.99) << "spliced " << t.spliced_bytes << " of " << t.total_bytes() << " bytes\n"
                               << json;
    } else {
        EXPECT_EQ(t.spliced_bytes, 0u) << json;
        EXPECT_EQ(t.spliced_requests, 0u) << json;
    }
}

// Write, check the write counters, remount for a cold cache, read, check the read counters.
void run_evidence(const std::vector<std::string>& args, Expect expect, bool remount) {
    if (env_passthrough()) GTEST_SKIP() << "kernel passthrough: READ and WRITE never reach the daemon";
    if (env_uring()) GTEST_SKIP() << "io_uring transport: payloads are in ring memory, nothing to splice";
    Mount mnt(args);
    const Bytes data = random_bytes(64, kTotal);
    write_big(mnt.m("big"), data);
    if (::testing::Test::HasFatalFailure()) return;
    expect_direction(mnt.stats().writes, expect.writes_spliced, "writes", mnt.stats().json);
    if (remount) mnt.remount();
    read_big_and_compare(mnt.m("big"), data);
    const StatsSnapshot s = mnt.stats();
    expect_direction(s.reads, expect.reads_spliced, "reads", s.json);
    EXPECT_EQ(read_file(mnt.b("big")), data);

    expect_clean_unmount(mnt);
    // At unmount the daemon logs the same totals.
    const std::string log = mnt.log();
    EXPECT_NE(log.find("reads: "), std::string::npos) << log;
    EXPECT_NE(log.find("writes: "), std::string::npos) << log;
    EXPECT_FALSE(is_splicefs_mounted(mnt.mnt()));
}

TEST(SpliceEvidence, SplicedBothWaysByDefault) {
    run_evidence({}, {true, true}, true);
}

TEST(SpliceEvidence, SplicedBothWaysWithoutPageCache) {
    run_evidence({"--cache=never"}, {true, true}, false);
}

TEST(SpliceEvidence, NothingSplicedWithNoSplice) {
    run_evidence({"--no-splice"}, {false, false}, true);
}

TEST(SpliceEvidence, NoSpliceReadOnlyCopiesReads) {
    run_evidence({"--no-splice-read"}, {false, true}, true);
}

TEST(SpliceEvidence, NoSpliceWriteOnlyCopiesWrites) {
    run_evidence({"--no-splice-write"}, {true, false}, true);
}

}  // namespace
}  // namespace splicefs::test
