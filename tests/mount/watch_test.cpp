// The backing watch (--cache=auto): changes made to the backing tree outside the mount reach
// the kernel's caches as they happen, long before the 10 s the watched timeouts allow, and
// names and attributes stay cached past the 1 s of the unwatched default.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "mount_fixture.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

using namespace std::chrono_literals;

// Well below the 10 s a watched name or attribute may be cached: a change seen within it
// was pushed by the watch, not found after a timeout.
constexpr auto kPushDeadline = 5s;

bool eventually(const std::function<bool()>& seen) {
    const auto until = std::chrono::steady_clock::now() + kPushDeadline;
    while (!seen()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

std::optional<struct stat> stat_if_exists(const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return std::nullopt;
    return st;
}

std::int64_t stats_number(const Mount& mount, std::string_view key) {
    return json_number(mount.stats().json, "", key).value_or(-2);
}

class WatchTest : public MountTest {
protected:
    void SetUp() override {
        MountTest::SetUp();
        if (env_passthrough()) {
            // Kernel passthrough writes from the clients' own processes: the watch stays off.
            EXPECT_EQ(stats_number(mount(), "watched_dirs"), -1);
            GTEST_SKIP() << "the backing watch is off with --data-path=passthrough";
        }
        ASSERT_GE(stats_number(mount(), "watched_dirs"), 1) << mount().log();
    }
};

TEST_F(WatchTest, OutsideChangesToNamesReachTheMount) {
    // The starting tree is made through the mount: made outside, its own events could arrive
    // after the names below are cached and drop them again, which the count at the end
    // would take for the changes under test.
    fs::create_directory(m("d"));
    write_file(m("d/old"), "old");
    write_file(m("d/moved"), "moved");
    // Cache the names, a negative entry included.
    ASSERT_TRUE(stat_if_exists(m("d/old")));
    ASSERT_TRUE(stat_if_exists(m("d/moved")));
    ASSERT_FALSE(stat_if_exists(m("d/new")));
    const auto before = stats_number(mount(), "outside_changes");

    write_file(b("d/new"), "new");
    fs::remove(b("d/old"));
    fs::rename(b("d/moved"), b("d/renamed"));
    fs::create_directory(b("d/sub"));

    EXPECT_TRUE(eventually([&] { return stat_if_exists(m("d/new")).has_value(); })) << "create";
    EXPECT_TRUE(eventually([&] { return !stat_if_exists(m("d/old")); })) << "unlink";
    EXPECT_TRUE(eventually([&] { return !stat_if_exists(m("d/moved")) && stat_if_exists(m("d/renamed")); }))
        << "rename";
    EXPECT_TRUE(eventually([&] { return stat_if_exists(m("d/sub")).has_value(); })) << "mkdir";
    EXPECT_EQ(list_dir(m("d")), list_dir(b("d")));
    EXPECT_EQ(read_file(m("d/renamed")), to_bytes("moved"));
    EXPECT_GT(stats_number(mount(), "outside_changes"), before);
}

TEST_F(WatchTest, OutsideChangesToAttributesAndDataReachTheMount) {
    write_file(m("f"), "first version");                      // through the mount, as above
    ASSERT_EQ(read_file(m("f")), to_bytes("first version"));  // data in the FUSE page cache
    const struct stat cached = lstat_of(m("f"));

    ASSERT_EQ(::chmod(b("f").c_str(), 0600), 0);
    EXPECT_TRUE(eventually([&] { return (lstat_of(m("f")).st_mode & 07777) == 0600; })) << "chmod";

    // Same size, new bytes: only an invalidation of the data can show them.
    write_file(b("f"), "second versio", 0600);
    const Bytes second = to_bytes("second versio");
    EXPECT_TRUE(eventually([&] { return read_file(m("f")) == second; })) << "rewrite";

    // Appended while a reader holds the file open (tail -f): the size grows in the mount.
    const Fd reader = open_fd(m("f"), O_RDONLY);
    ASSERT_TRUE(reader.valid());
    {
        const Fd writer = open_fd(b("f"), O_WRONLY | O_APPEND);
        ASSERT_TRUE(writer.valid());
        ASSERT_EQ(::write(writer.get(), "+tail", 5), 5);
    }
    EXPECT_TRUE(eventually([&] { return lstat_of(m("f")).st_size == cached.st_size + 5; })) << "append";
    EXPECT_EQ(pread_exact(reader.get(), 64, 0), to_bytes("second versio+tail"));
}

TEST_F(WatchTest, NamesAndAttributesStayCachedPastOneSecond) {
    fs::create_directory(m("d"));
    constexpr int kFiles = 50;
    for (int i = 0; i < kFiles; ++i) write_file(m("d/f" + std::to_string(i)), "x");
    for (int i = 0; i < kFiles; ++i) ASSERT_TRUE(stat_if_exists(m("d/f" + std::to_string(i))));
    std::this_thread::sleep_for(1500ms);  // past the unwatched 1 s timeouts

    const auto before = mount().stats();
    for (int i = 0; i < kFiles; ++i) ASSERT_TRUE(stat_if_exists(m("d/f" + std::to_string(i))));
    const auto after = mount().stats();
    EXPECT_EQ(after.op_calls("lookup").value_or(0), before.op_calls("lookup").value_or(0));
    // At most the directory, whose attributes the kernel checks for permissions.
    EXPECT_LE(after.op_calls("getattr").value_or(0), before.op_calls("getattr").value_or(0) + 1);
}

TEST_F(WatchTest, ChangesThroughTheMountAreNotOutsideChanges) {
    const auto before = stats_number(mount(), "outside_changes");
    fs::create_directory(m("d"));
    write_file(m("d/f"), random_bytes(7, 1 << 20));
    ASSERT_EQ(::chmod(m("d/f").c_str(), 0600), 0);
    fs::rename(m("d/f"), m("d/g"));
    fs::remove(m("d/g"));
    // Give a stray event time to arrive before counting.
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(stats_number(mount(), "outside_changes"), before);
}

TEST_F(WatchTest, ForgottenDirectoriesAreUnmarked) {
    const auto baseline = stats_number(mount(), "watched_dirs");
    // Made through the mount: made in the backing tree, their creation would reach the watch
    // as outside changes a moment later and drop some of the entries again (a fresh lookup
    // follows), making the count below a race.
    for (int i = 0; i < 20; ++i) fs::create_directories(m("t" + std::to_string(i) + "/inner"));
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(stat_if_exists(m("t" + std::to_string(i) + "/inner")));
    EXPECT_EQ(stats_number(mount(), "watched_dirs"), baseline + 40);
    // Dropping the kernel's caches makes it forget the directories.
    {
        const Fd drop = open_fd("/proc/sys/vm/drop_caches", O_WRONLY);
        ASSERT_TRUE(drop.valid());
        ASSERT_EQ(::write(drop.get(), "2", 1), 1);
    }
    EXPECT_TRUE(eventually([&] { return stats_number(mount(), "watched_dirs") == baseline; }))
        << stats_number(mount(), "watched_dirs");
}

class NoWatchTest : public MountTest {
protected:
    std::vector<std::string> mount_args() const override { return {"--no-watch"}; }
};

TEST_F(NoWatchTest, WatchIsOffAndOutsideChangesShowAfterTheTimeout) {
    EXPECT_EQ(stats_number(mount(), "watched_dirs"), -1);
    write_file(b("f"), "a");
    ASSERT_EQ(read_file(m("f")), to_bytes("a"));
    ASSERT_EQ(::chmod(b("f").c_str(), 0600), 0);
    std::this_thread::sleep_for(1100ms);  // the 1 s attribute timeout
    EXPECT_EQ(lstat_of(m("f")).st_mode & 07777, 0600u);
}

class ExplicitTimeoutTest : public MountTest {
protected:
    std::vector<std::string> mount_args() const override { return {"--attr-timeout=2"}; }
};

TEST_F(ExplicitTimeoutTest, ExplicitTimeoutsTurnTheWatchOff) {
    EXPECT_EQ(stats_number(mount(), "watched_dirs"), -1);
}

}  // namespace
}  // namespace splicefs::test
