// InodeTable: lookup counting, forget to zero, and node ids that are never reused.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "fs/inode_table.hpp"

namespace splicefs::fs {
namespace {

class InodeTableTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = ::testing::TempDir() + "inode_table_XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        ASSERT_EQ(::mkdir((dir_ / "a").c_str(), 0755), 0);
        ASSERT_EQ(::close(::creat((dir_ / "b").c_str(), 0644)), 0);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    sys::UniqueFd open_path(const std::string& name, struct stat& st) const {
        sys::UniqueFd fd{::open((dir_ / name).c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC)};
        EXPECT_TRUE(fd.valid());
        EXPECT_EQ(::fstatat(fd.get(), "", &st, AT_EMPTY_PATH), 0);
        return fd;
    }
    InodeTable make_table() const {
        struct stat st {};
        auto fd = open_path(".", st);
        return InodeTable(std::move(fd), st);
    }

    std::filesystem::path dir_;
};

int open_fd_count() {
    int n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

TEST_F(InodeTableTest, RootIsKnownAndNeverForgotten) {
    auto table = make_table();
    ASSERT_NE(table.find(InodeTable::kRootId), nullptr);
    table.forget(InodeTable::kRootId, 1000);
    EXPECT_NE(table.find(InodeTable::kRootId), nullptr);
    EXPECT_EQ(table.size(), 1U);
}

TEST_F(InodeTableTest, SameInodeGetsSameIdAndCountsLookups) {
    auto table = make_table();
    struct stat st {};
    const auto id1 = table.remember(open_path("a", st), st);
    const auto id2 = table.remember(open_path("a", st), st);
    EXPECT_EQ(id1, id2);
    EXPECT_NE(id1, InodeTable::kRootId);
    EXPECT_EQ(table.size(), 2U);
    table.forget(id1, 1);
    ASSERT_NE(table.find(id1), nullptr) << "one lookup is still owed";
    table.forget(id1, 1);
    EXPECT_EQ(table.find(id1), nullptr);
    EXPECT_EQ(table.size(), 1U);
}

TEST_F(InodeTableTest, ForgetMoreThanCountedErases) {
    auto table = make_table();
    struct stat st {};
    const auto id = table.remember(open_path("b", st), st);
    table.forget(id, 5);
    EXPECT_EQ(table.find(id), nullptr);
}

TEST_F(InodeTableTest, IdsAreNotReusedAfterForget) {
    auto table = make_table();
    struct stat st {};
    const auto first = table.remember(open_path("a", st), st);
    table.forget(first, 1);
    const auto second = table.remember(open_path("a", st), st);
    EXPECT_NE(first, second) << "a stale id must miss, never hit a new entry";
    EXPECT_EQ(table.find(first), nullptr);
}

TEST_F(InodeTableTest, UnknownIdsMissQuietly) {
    auto table = make_table();
    EXPECT_EQ(table.find(424242), nullptr);
    table.forget(424242, 1);  // no crash, no effect
    EXPECT_EQ(table.size(), 1U);
}

TEST_F(InodeTableTest, FdsAreClosedWhenForgottenOrDuplicate) {
    const int before = open_fd_count();
    {
        auto table = make_table();
        struct stat st {};
        const auto id = table.remember(open_path("a", st), st);
        table.remember(open_path("a", st), st);  // duplicate fd must be closed at once
        EXPECT_EQ(open_fd_count(), before + 2);  // root + a
        table.forget(id, 2);
        EXPECT_EQ(open_fd_count(), before + 1);
    }
    EXPECT_EQ(open_fd_count(), before);
}

TEST_F(InodeTableTest, BorrowedInodeOutlivesForget) {
    auto table = make_table();
    struct stat st {};
    const auto id = table.remember(open_path("b", st), st);
    const auto held = table.find(id);
    table.forget(id, 1);
    ASSERT_NE(held, nullptr);
    struct stat again {};
    EXPECT_EQ(::fstatat(held->fd.get(), "", &again, AT_EMPTY_PATH), 0) << "an in-flight request keeps its fd";
    EXPECT_EQ(again.st_ino, st.st_ino);
}

}  // namespace
}  // namespace splicefs::fs
