// InodeTable: lookup counting, forget to zero, and node ids that are never reused.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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
    InodeTable make_table(std::size_t max_path_fds = InodeTable::kUnlimited) const {
        struct stat st {};
        auto fd = open_path(".", st);
        return InodeTable(std::move(fd), st, max_path_fds);
    }
    void touch(const std::string& name) const { ASSERT_EQ(::close(::creat((dir_ / name).c_str(), 0644)), 0); }

    std::filesystem::path dir_;
};

int open_fd_count() {
    int n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

TEST_F(InodeTableTest, RootIsKnownAndNeverForgotten) {
    auto table = make_table();
    ASSERT_TRUE(table.find(InodeTable::kRootId));
    table.forget(InodeTable::kRootId, 1000);
    EXPECT_TRUE(table.find(InodeTable::kRootId));
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
    ASSERT_TRUE(table.find(id1)) << "one lookup is still owed";
    table.forget(id1, 1);
    EXPECT_FALSE(table.find(id1));
    EXPECT_EQ(table.size(), 1U);
}

// Names a listing returns: a known inode with an open fd is counted without a new fd.
TEST_F(InodeTableTest, CountIfOpenCountsKnownInodesOnly) {
    auto table = make_table(2);
    struct stat st {};
    EXPECT_FALSE(table.count_if_open(st));  // nothing known at (0, 0)
    const auto id = table.remember(open_path("a", st), st);
    EXPECT_TRUE(table.knows_open(st.st_dev, st.st_ino));
    ASSERT_EQ(table.count_if_open(st), id);
    table.forget(id, 1);
    EXPECT_TRUE(table.find(id)) << "the listing's reference is still owed";
    table.forget(id, 1);
    EXPECT_FALSE(table.find(id));
    EXPECT_FALSE(table.knows_open(st.st_dev, st.st_ino));
    if (!table.evicts()) return;
    struct stat bst {};
    const auto b = table.remember(open_path("b", bst), bst);
    table.remember(open_path("a", st), st);  // evicts b (budget 2: root + one)
    EXPECT_FALSE(table.knows_open(bst.st_dev, bst.st_ino));
    EXPECT_FALSE(table.count_if_open(bst)) << "an evicted inode must be reopened, not counted";
    table.forget(b, 1);
}

TEST_F(InodeTableTest, ForgetMoreThanCountedErases) {
    auto table = make_table();
    struct stat st {};
    const auto id = table.remember(open_path("b", st), st);
    table.forget(id, 5);
    EXPECT_FALSE(table.find(id));
}

TEST_F(InodeTableTest, IdsAreNotReusedAfterForget) {
    auto table = make_table();
    struct stat st {};
    const auto first = table.remember(open_path("a", st), st);
    table.forget(first, 1);
    const auto second = table.remember(open_path("a", st), st);
    EXPECT_NE(first, second) << "a stale id must miss, never hit a new entry";
    EXPECT_FALSE(table.find(first));
}

TEST_F(InodeTableTest, UnknownIdsMissQuietly) {
    auto table = make_table();
    EXPECT_FALSE(table.find(424242));
    EXPECT_EQ(table.find(424242).error(), ESTALE);
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
        EXPECT_EQ(open_fd_count(), before + 3);  // root (O_PATH and the mount fd for handles) + a
        table.forget(id, 2);
        EXPECT_EQ(open_fd_count(), before + 2);
    }
    EXPECT_EQ(open_fd_count(), before);
}

TEST_F(InodeTableTest, BorrowedInodeOutlivesForget) {
    auto table = make_table();
    struct stat st {};
    const auto id = table.remember(open_path("b", st), st);
    const auto held = table.find(id);
    table.forget(id, 1);
    ASSERT_TRUE(held);
    struct stat again {};
    EXPECT_EQ(::fstatat(held.fd(), "", &again, AT_EMPTY_PATH), 0) << "an in-flight request keeps its fd";
    EXPECT_EQ(again.st_ino, st.st_ino);
}

ino_t ino_of(const InodeRef& ref) {
    struct stat st {};
    EXPECT_EQ(::fstatat(ref.fd(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW), 0);
    return st.st_ino;
}

// More inodes than the fd budget: the coldest fds are closed and reopened by handle on use.
TEST_F(InodeTableTest, EvictsBeyondTheBudgetAndReopensByHandle) {
    auto table = make_table(4);
    if (!table.evicts()) GTEST_SKIP() << "no file handles on " << dir_;
    std::vector<std::pair<std::uint64_t, ino_t>> known;
    for (int i = 0; i < 20; ++i) {
        touch("f" + std::to_string(i));
        struct stat st {};
        known.emplace_back(table.remember(open_path("f" + std::to_string(i), st), st), st.st_ino);
        EXPECT_LE(table.counts().path_fds, 4U);
    }
    const int before = open_fd_count();
    for (const auto& [id, ino] : known) {
        const auto ref = table.find(id);
        ASSERT_TRUE(ref) << std::strerror(ref.error());
        EXPECT_EQ(ino_of(ref), ino) << "node id " << id << " reopened another file";
    }
    EXPECT_GE(table.counts().reopens, 16U);
    EXPECT_LE(table.counts().path_fds, 4U);
    EXPECT_EQ(open_fd_count(), before) << "evicted fds must be closed";
    EXPECT_EQ(table.size(), 21U);
    for (const auto& [id, ino] : known) table.forget(id, 1);
    EXPECT_EQ(table.counts().path_fds, 1U) << "only the root keeps an fd";
}

TEST_F(InodeTableTest, EvictedFileThatIsGoneAnswersEstale) {
    auto table = make_table(2);
    if (!table.evicts()) GTEST_SKIP() << "no file handles on " << dir_;
    touch("gone");
    struct stat st {};
    const auto id = table.remember(open_path("gone", st), st);
    table.remember(open_path("a", st), st);  // evicts "gone"
    ASSERT_EQ(::unlink((dir_ / "gone").c_str()), 0);
    const auto ref = table.find(id);
    EXPECT_FALSE(ref);
    EXPECT_EQ(ref.error(), ESTALE);
}

// A lookup may record a new inode by its handle alone: no fd until a request needs one, and
// that first open is not a reopen.
TEST_F(InodeTableTest, HandleOnlyInodeOpensOnFirstUse) {
    auto table = make_table();
    if (!table.evicts()) GTEST_SKIP() << "no file handles on " << dir_;
    struct stat st {};
    ASSERT_EQ(::lstat((dir_ / "b").c_str(), &st), 0);
    const sys::UniqueFd dir{::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
    auto handle = handle_at(dir.get(), "b");
    ASSERT_FALSE(handle.empty());
    if (!handle_names(handle, st.st_ino)) GTEST_SKIP() << "handles here do not carry the inode number";
    EXPECT_FALSE(handle_names(handle, st.st_ino + 1));

    const int before = open_fd_count();
    const auto id = table.remember_handle(handle, st);
    EXPECT_EQ(table.counts().path_fds, 1U) << "only the root holds an fd";
    EXPECT_EQ(open_fd_count(), before);
    EXPECT_EQ(table.remember_handle(handle, st), id) << "the same file, counted again";
    EXPECT_FALSE(table.count_if_open(st)) << "no fd yet: not counted as open";

    const auto ref = table.find(id);
    ASSERT_TRUE(ref) << std::strerror(ref.error());
    EXPECT_EQ(ino_of(ref), st.st_ino);
    EXPECT_EQ(table.counts().path_fds, 2U);
    EXPECT_EQ(table.counts().reopens, 0U) << "a first open is not a reopen";
    // Two lookups, one forget each: then the entry and its fd go.
    table.forget(id, 1);
    EXPECT_TRUE(table.find(id));
    table.forget(id, 1);
    EXPECT_FALSE(table.find(id));
    EXPECT_EQ(table.counts().path_fds, 1U);
}

// Gone before its first use: ESTALE, like an evicted inode.
TEST_F(InodeTableTest, HandleOnlyInodeThatIsGoneAnswersEstale) {
    auto table = make_table();
    if (!table.evicts()) GTEST_SKIP() << "no file handles on " << dir_;
    touch("gone");
    struct stat st {};
    ASSERT_EQ(::lstat((dir_ / "gone").c_str(), &st), 0);
    const sys::UniqueFd dir{::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
    const auto id = table.remember_handle(handle_at(dir.get(), "gone"), st);
    ASSERT_EQ(::unlink((dir_ / "gone").c_str()), 0);
    const auto ref = table.find(id);
    EXPECT_FALSE(ref);
    EXPECT_EQ(ref.error(), ESTALE);
}

// While the backing fs hands the gone file's inode number to a file being created, the
// kernel's handle lookup fails with ENOMEM (ext4: iget_locked meets the new inode mid-set-up).
// The table must still answer ESTALE, the error the kernel retries an open on: ENOMEM would
// reach the application (seen as open() = ENOMEM on a file deleted outside the mount).
TEST_F(InodeTableTest, GoneFileAnswersEstaleWhileItsNumberIsReused) {
    auto table = make_table();
    if (!table.evicts()) GTEST_SKIP() << "no file handles on " << dir_;
    // A jthread: a failed ASSERT below returns early, and it still stops and joins.
    std::jthread creator([&](const std::stop_token& stop) {
        for (int i = 0; !stop.stop_requested(); ++i) {
            const auto p = dir_ / ("churn" + std::to_string(i % 64));
            const int fd = ::creat(p.c_str(), 0644);
            if (fd >= 0) ::close(fd);
            ::unlink(p.c_str());
        }
    });
    std::map<int, int> errors;
    const sys::UniqueFd dir{::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
    for (int round = 0; round < 2000; ++round) {
        touch("gone");
        struct stat st {};
        ASSERT_EQ(::lstat((dir_ / "gone").c_str(), &st), 0);
        const auto id = table.remember_handle(handle_at(dir.get(), "gone"), st);
        ASSERT_EQ(::unlink((dir_ / "gone").c_str()), 0);
        for (int k = 0; k < 20; ++k) {
            const auto ref = table.find(id);
            ++errors[ref ? 0 : ref.error()];  // 0: opened a file that is gone
        }
        table.forget(id, 1);
    }
    creator.request_stop();
    creator.join();
    std::string seen;
    for (const auto& [err, n] : errors)
        seen += std::string(std::strerror(err)) + " x" + std::to_string(n) + "; ";
    EXPECT_EQ(errors.size(), 1U) << seen;
    EXPECT_EQ(errors.count(ESTALE), 1U) << seen;
}

// An evicted inode is not pinned: its number can go to a new file, which must get a node id
// of its own while the old id answers ESTALE.
TEST_F(InodeTableTest, ReusedInodeNumberIsANewInode) {
    auto table = make_table(2);
    if (!table.evicts()) GTEST_SKIP() << "no file handles on " << dir_;
    touch("old");
    struct stat old_st {};
    const auto old_id = table.remember(open_path("old", old_st), old_st);
    struct stat st {};
    const auto a_id = table.remember(open_path("a", st), st);  // evicts "old"
    ASSERT_EQ(::unlink((dir_ / "old").c_str()), 0);
    ino_t reused = 0;
    for (int i = 0; i < 50 && reused != old_st.st_ino; ++i) {
        touch("new" + std::to_string(i));
        struct stat nst {};
        ASSERT_EQ(::stat((dir_ / ("new" + std::to_string(i))).c_str(), &nst), 0);
        if (nst.st_ino == old_st.st_ino) {
            reused = nst.st_ino;
            const auto new_id = table.remember(open_path("new" + std::to_string(i), nst), nst);
            EXPECT_NE(new_id, old_id);
            EXPECT_FALSE(table.find(old_id));
            const auto ref = table.find(new_id);
            ASSERT_TRUE(ref);
            EXPECT_EQ(ino_of(ref), old_st.st_ino);
            table.forget(old_id, 1);  // must not unmap the new file
            EXPECT_EQ(table.remember(open_path("new" + std::to_string(i), nst), nst), new_id);
        }
    }
    table.forget(a_id, 1);
    if (reused == 0) GTEST_SKIP() << "the filesystem did not reuse inode " << old_st.st_ino;
}

}  // namespace
}  // namespace splicefs::fs
