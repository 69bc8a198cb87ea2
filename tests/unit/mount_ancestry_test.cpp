// The loop check: (st_dev, st_ino) ancestry with real directories, symlinks and odd spellings.
#include <gtest/gtest.h>

#include <filesystem>
#include <system_error>

#include "mount/ancestry.hpp"
#include "mount_test_util.hpp"

namespace splicefs::mount {
namespace {

namespace fs = std::filesystem;
using splicefs::testing::TempDir;

TEST(Ancestry, EndsAtTheRoot) {
    TempDir t;
    const auto dir = t.make("a/b/c");
    const auto chain = ancestry(dir);
    const auto root = ancestry("/");
    ASSERT_EQ(root.size(), 1U);
    ASSERT_GE(chain.size(), 4U);  // c, b, a, temp dir, ... /
    EXPECT_EQ(chain.back(), root.front());
    EXPECT_EQ(chain[1], ancestry(t.path() / "a/b").front());
}

TEST(Ancestry, MissingDirectoryThrows) {
    TempDir t;
    EXPECT_THROW((void)ancestry(t.path() / "nope"), std::system_error);
}

TEST(Relate, UnrelatedSiblings) {
    TempDir t;
    EXPECT_EQ(relate(t.make("backing"), t.make("mnt")), Relation::Unrelated);
}

TEST(Relate, SameDirectoryUnderDifferentSpellings) {
    TempDir t;
    const auto b = t.make("backing");
    t.make("mnt");
    EXPECT_EQ(relate(b, b), Relation::Same);
    EXPECT_EQ(relate(b, t.path() / "backing/./"), Relation::Same);
    EXPECT_EQ(relate(b, t.path() / "mnt/../backing"), Relation::Same);
}

TEST(Relate, MountpointInsideBacking) {
    TempDir t;
    const auto b = t.make("backing");
    const auto m = t.make("backing/x/y/mnt");
    EXPECT_EQ(relate(b, m), Relation::MountpointInsideBacking);
}

TEST(Relate, BackingInsideMountpoint) {
    TempDir t;
    const auto m = t.make("mnt");
    const auto b = t.make("mnt/deep/backing");
    EXPECT_EQ(relate(b, m), Relation::BackingInsideMountpoint);
}

TEST(Relate, SymlinkedMountpointInsideBackingIsCaught) {
    TempDir t;
    const auto b = t.make("backing");
    t.make("backing/sub");
    fs::create_directory_symlink(b / "sub", t.path() / "innocent-looking");
    // By string the two paths share no prefix; by inode the mountpoint is inside the backing.
    EXPECT_EQ(relate(b, t.path() / "innocent-looking"), Relation::MountpointInsideBacking);
}

TEST(Relate, SymlinkToBackingItselfIsSame) {
    TempDir t;
    const auto b = t.make("backing");
    fs::create_directory_symlink(b, t.path() / "alias");
    EXPECT_EQ(relate(t.path() / "alias", b), Relation::Same);
}

TEST(Relate, StringPrefixIsNotAncestry) {
    TempDir t;
    // "/x/backing2" starts with "/x/backing" but is not inside it.
    EXPECT_EQ(relate(t.make("backing"), t.make("backing2")), Relation::Unrelated);
}

}  // namespace
}  // namespace splicefs::mount
