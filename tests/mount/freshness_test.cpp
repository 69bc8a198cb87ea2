// Close-to-open consistency on every backing: a file changed behind the mount shows its new
// contents at the next open, whatever the kernel cached, and the backing watch is on or off
// as --watch and the backing filesystem decide. The watch is off here, so only the check at
// OPEN can make these reads fresh (names and attributes may be cached for 1 s).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <string>

#include "mount_fixture.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

std::int64_t stats_number(const StatsSnapshot& s, std::string_view key) {
    return json_number(s.json, "", key).value_or(-2);
}

// Rewrites the backing file in place, then puts its mtime back: only size and ctime tell.
void rewrite_keeping_mtime(const fs::path& p, std::string_view text) {
    const struct stat before = lstat_of(p);
    {
        const Fd fd = open_fd(p, O_WRONLY);
        pwrite_all(fd.get(), to_bytes(text), 0);
    }
    const std::array<timespec, 2> times{before.st_atim, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times.data(), 0), 0);
}

class CloseToOpenTest : public MountTest {
protected:
    std::vector<std::string> mount_args() const override { return {"--watch=off"}; }
};

TEST_F(CloseToOpenTest, SameSizeRewriteIsReadAtTheNextOpen) {
    write_file(b("f"), "aaaa");
    ASSERT_EQ(read_file(m("f")), to_bytes("aaaa"));  // the kernel now caches these pages
    rewrite_keeping_mtime(b("f"), "bbbb");
    EXPECT_EQ(read_file(m("f")), to_bytes("bbbb"));
    EXPECT_GE(stats_number(mount().stats(), "changed_opens"), 1);
}

TEST_F(CloseToOpenTest, GrownFileIsReadInFullAtTheNextOpen) {
    write_file(b("f"), "aaaa");
    ASSERT_EQ(read_file(m("f")), to_bytes("aaaa"));
    ASSERT_EQ(lstat_of(m("f")).st_size, 4);  // the kernel now caches size 4
    write_file(b("f"), "bbbbbbbbbbbb");
    EXPECT_EQ(read_file(m("f")), to_bytes("bbbbbbbbbbbb"));
}

TEST_F(CloseToOpenTest, OpenFileKeepsWhatItRead) {
    // Another handle of the file, open across the change, does not keep the old pages alive
    // for the next open.
    write_file(b("f"), "aaaa");
    const Fd held = open_fd(m("f"), O_RDONLY);
    EXPECT_EQ(pread_exact(held.get(), 4, 0), to_bytes("aaaa"));
    rewrite_keeping_mtime(b("f"), "cccc");
    EXPECT_EQ(read_file(m("f")), to_bytes("cccc"));
}

TEST_F(CloseToOpenTest, OwnWritesDoNotDropTheCache) {
    write_file(m("f"), "written through the mount");
    (void)mount().stats_when_idle();  // the writer's RELEASE has arrived
    EXPECT_EQ(read_file(m("f")), to_bytes("written through the mount"));
    EXPECT_EQ(read_file(m("f")), to_bytes("written through the mount"));
    EXPECT_EQ(stats_number(mount().stats_when_idle(), "changed_opens"), 0);
}

TEST_F(CloseToOpenTest, StatsTellTheWatchDecision) {
    const auto s = mount().stats();
    EXPECT_EQ(stats_number(s, "watched_dirs"), -1);
    EXPECT_NE(s.json.find(R"("watch":"--watch=off")"), std::string::npos) << s.json;
    EXPECT_EQ(s.json.find(R"("fs":"")"), std::string::npos) << s.json;
}

class ForcedWatchTest : public MountTest {
protected:
    std::vector<std::string> mount_args() const override { return {"--watch=on"}; }
};

TEST_F(ForcedWatchTest, WatchOnIsHonouredOrExplained) {
    const auto s = mount().stats();
    if (env_passthrough()) {
        EXPECT_EQ(stats_number(s, "watched_dirs"), -1);  // passthrough turns it off
        return;
    }
    // /tmp is local: on; elsewhere (the backing matrix) forced on, unless fanotify refuses.
    EXPECT_TRUE(stats_number(s, "watched_dirs") >= 0 || s.json.find("unavailable") != std::string::npos)
        << s.json;
}

}  // namespace
}  // namespace splicefs::test
