// The reshaping value type: bindfs's permission dialect, id maps, what is shown, what a chown
// or a new file writes to the backing.
#include <gtest/gtest.h>

#include <cerrno>
#include <stdexcept>

#include "core/reshape.hpp"

namespace splicefs {
namespace {

constexpr mode_t kFile = S_IFREG;
constexpr mode_t kDir = S_IFDIR;

mode_t perms(const char* spec, mode_t mode) {
    return PermChain::parse(spec).apply(mode) & 07777;
}

TEST(PermChain, OctalSetsPermissionBitsKeepsSpecialOnes) {
    EXPECT_EQ(perms("0644", kFile | 0777), 0644U);
    EXPECT_EQ(perms("0600", kFile | 04755), 04600U);
}

TEST(PermChain, SymbolicRulesApplyInOrder) {
    EXPECT_EQ(perms("a-w", kFile | 0666), 0444U);
    EXPECT_EQ(perms("og-x:og+rD:u=rwX:g+rw", kFile | 0711), 0764U);
    EXPECT_EQ(perms("og-x:og+rD:u=rwX:g+rw", kDir | 0700), 0775U);
    EXPECT_EQ(perms("0644,a+X", kFile | 0700), 0755U);  // X: executable by anyone before the chain
    EXPECT_EQ(perms("0644,a+X", kFile | 0600), 0644U);
    EXPECT_EQ(perms("a+D", kFile | 0700), 0700U);  // D: directories only
    EXPECT_EQ(perms("a+D", kDir | 0600), 0711U);
}

TEST(PermChain, FileAndDirectoryLimitedRules) {
    EXPECT_EQ(perms("gd-w", kDir | 0775), 0755U);
    EXPECT_EQ(perms("gd-w", kFile | 0664), 0664U);
    // Without u, g, o or a a rule means all of them (bindfs: nothing; KD-RESHAPE-PERMS-WHO).
    EXPECT_EQ(perms("f-w", kFile | 0666), 0444U);
    EXPECT_EQ(perms("f-w", kDir | 0777), 0777U);
}

TEST(PermChain, CopiesAnotherClassFromTheOriginalMode) {
    EXPECT_EQ(perms("g=u", kFile | 0700), 0770U);
    EXPECT_EQ(perms("ug+o", kFile | 0005), 0555U);
    EXPECT_EQ(perms("a=,u=g", kFile | 0750), 0500U);  // reads the mode the chain started from
}

TEST(PermChain, RejectsWhatDoesNotParse) {
    for (const char* bad : {"", "0844", "01777", "u", "a+q", "z=r", "0644,,a+X", "a+r:"}) {
        EXPECT_THROW((void)PermChain::parse(bad), std::invalid_argument) << bad;
    }
}

TEST(IdMap, MapsBothWaysAndRefusesDuplicates) {
    IdMap m;
    m.add(1000, 2000);
    EXPECT_EQ(m.forward(1000), 2000U);
    EXPECT_EQ(m.forward(7), 7U);
    EXPECT_EQ(m.backward(2000), 1000U);
    EXPECT_EQ(m.backward(1000), 1000U);
    EXPECT_THROW(m.add(1000, 3000), std::invalid_argument);
    EXPECT_THROW(m.add(5, 2000), std::invalid_argument);
}

struct stat file(uid_t uid, gid_t gid, mode_t mode) {
    struct stat st {};
    st.st_uid = uid;
    st.st_gid = gid;
    st.st_mode = mode;
    return st;
}

TEST(Reshape, NothingGivenIsInactive) {
    const Reshape r;
    EXPECT_FALSE(r.active());
    auto st = file(5, 6, kFile | 0640);
    ASSERT_TRUE(r.show(st, 1000));
    EXPECT_EQ(st.st_uid, 5U);
    EXPECT_EQ(st.st_gid, 6U);
    EXPECT_EQ(st.st_mode, kFile | 0640);
}

TEST(Reshape, ShowsMapThenOffsetThenForceThenPerms) {
    Reshape r;
    r.uid_map.add(5, 50);
    r.gid_offset = 100;
    r.perms = PermChain::parse("a+r");
    auto st = file(5, 6, kFile | 0600);
    ASSERT_TRUE(r.show(st, 0));
    EXPECT_EQ(st.st_uid, 50U);
    EXPECT_EQ(st.st_gid, 106U);
    EXPECT_EQ(st.st_mode, kFile | 0644);
    r.force_uid = 7;
    st = file(5, 6, S_IFLNK | 0777);
    ASSERT_TRUE(r.show(st, 0));
    EXPECT_EQ(st.st_uid, 7U);
    EXPECT_EQ(st.st_mode, S_IFLNK | 0777);  // symlink modes are left alone
}

TEST(Reshape, OffsetOverflowFails) {
    Reshape r;
    r.uid_offset = 10;
    auto st = file(0x7ffffff8U, 0, kFile);
    EXPECT_FALSE(r.show(st, 0));
}

TEST(Reshape, MirrorShowsTheCallerAndMirrorOnlyLocksOthersOut) {
    Reshape r;
    r.mirror_uids = {1000, 1001};
    auto st = file(5, 6, kFile | 0644);
    ASSERT_TRUE(r.show(st, 1001));
    EXPECT_EQ(st.st_uid, 1001U);
    r.mirror_only = true;
    st = file(5, 6, kFile | 0644);
    ASSERT_TRUE(r.show(st, 2000));
    EXPECT_EQ(st.st_mode, kFile);
    st = file(5, 6, kFile | 0644);
    ASSERT_TRUE(r.show(st, 0));  // root is never locked out
    EXPECT_EQ(st.st_mode, kFile | 0644);
    EXPECT_TRUE(r.per_caller());
}

TEST(Reshape, ChownMapsBackAndFollowsPolicies) {
    Reshape r;
    r.uid_map.add(5, 50);
    r.gid_map.add(6, 60);
    auto c = r.backing_chown(50, 60);
    EXPECT_EQ(c.error, 0);
    EXPECT_EQ(c.uid, 5U);
    EXPECT_EQ(c.gid, 6U);
    r.chown = ChangePolicy::Ignore;
    c = r.backing_chown(50, 60);
    EXPECT_EQ(c.uid, Reshape::kKeep);
    EXPECT_EQ(c.gid, 6U);
    r.chgrp = ChangePolicy::Deny;
    EXPECT_EQ(r.backing_chown(Reshape::kKeep, 60).error, EPERM);
    EXPECT_EQ(r.backing_chown(50, Reshape::kKeep).error, 0);
}

TEST(Reshape, ChownUnderTheOffsetFails) {
    Reshape r;
    r.uid_offset = 1000;
    EXPECT_EQ(r.backing_chown(1005, Reshape::kKeep).uid, 5U);
    EXPECT_EQ(r.backing_chown(5, Reshape::kKeep).error, EIO);
}

TEST(Reshape, CreationOwnerAndMode) {
    Reshape r;
    r.uid_map.add(5, 50);
    auto o = r.create_owner(50, 60);
    EXPECT_EQ(o.uid, 5U);
    EXPECT_EQ(o.gid, 60U);
    r.create_uid = 9;
    r.create_gid = 10;
    o = r.create_owner(50, 60);
    EXPECT_EQ(o.uid, 9U);
    EXPECT_EQ(o.gid, 10U);
    Reshape off;
    off.uid_offset = 1000;
    EXPECT_EQ(off.create_owner(1005, 0).uid, 5U);
    EXPECT_EQ(off.create_owner(0, 0).uid, 0U);  // cannot be undone: the caller's own id
    off.create_perms = PermChain::parse("0600,u+X");
    EXPECT_EQ(off.create_mode(kDir | 0777), kDir | 0700);
    EXPECT_EQ(off.create_mode(kFile | 0666), kFile | 0600);
}

}  // namespace
}  // namespace splicefs
