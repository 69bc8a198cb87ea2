// Finding the FUSE connection of a mountpoint in mountinfo text (fusectl's directory number),
// without touching the mount.
#include <gtest/gtest.h>

#include <sstream>

#include "mount/failover_connection.hpp"
#include "mount/failover_supervisor.hpp"

namespace splicefs::mount {
namespace {

std::optional<unsigned long> find(const std::string& text, const std::string& mountpoint) {
    std::istringstream in(text);
    return fuse_connection_of(in, mountpoint);
}

TEST(FailoverConnection, MajorMinorOfTheLastFuseMountOnThePath) {
    const std::string info =
        "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
        "40 22 0:40 / /tmp/m rw,nosuid,nodev - fuse.splicefs /srv rw,user_id=0\n"
        "41 40 0:41 / /tmp/m rw,nosuid,nodev - fuse.splicefs /srv2 rw,user_id=0\n"
        "42 22 8:1 / /tmp/n rw - ext4 /dev/sda1 rw\n";
    EXPECT_EQ(find(info, "/tmp/m"), 41ul);          // the one on top
    EXPECT_EQ(find(info, "/tmp/n"), std::nullopt);  // not FUSE
    EXPECT_EQ(find(info, "/tmp/x"), std::nullopt);
    EXPECT_EQ(find("50 22 3:7 / /mnt/a rw - fuse /srv rw\n", "/mnt/a"), (3ul << 20) | 7ul);
}

TEST(FailoverConnection, EscapedMountpointsAreDecoded) {
    const std::string info = "40 22 0:57 / /tmp/with\\040space rw - fuse.splicefs /srv rw\n";
    EXPECT_EQ(find(info, "/tmp/with space"), 57ul);
    EXPECT_EQ(find(info, "/tmp/with\\040space"), std::nullopt);
}

TEST(FailoverConnection, OffReasonsForOptionsThatCannotFailOver) {
    Config c;
    EXPECT_EQ(failover_off_reason(c), "");
    c.clone_fd = true;
    EXPECT_NE(failover_off_reason(c).find("--clone-fd"), std::string::npos);
    c.failover = false;
    EXPECT_EQ(failover_off_reason(c), "--no-failover");
}

}  // namespace
}  // namespace splicefs::mount
