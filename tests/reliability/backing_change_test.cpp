// The backing tree changes behind the daemon's back (truncate, replace by rename, directory
// removed or replaced, backing root renamed away and deleted). The mount may answer errors,
// fresh data or (with caching) the old data of the same file, but never another file's
// bytes, and the daemon never dies.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "rel_util.hpp"

namespace splicefs::reltest {
namespace {

constexpr std::size_t kSize = 1u << 20;

// Counts the bytes of `got` that are neither in `a` nor in `b` at the same offset nor 0
// (a short read after truncation may be padded with zeros by a cached size).
std::size_t foreign_bytes(const Bytes& got, const Bytes& a, const Bytes& b) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const bool ok = got[i] == 0 || (i < a.size() && got[i] == a[i]) || (i < b.size() && got[i] == b[i]);
        if (!ok) ++n;
    }
    return n;
}

// Reads a whole file; nullopt with errno kept when open/read fails.
std::optional<Bytes> try_read(const fs::path& p, int* err) {
    try {
        return test::read_file(p);
    } catch (const std::system_error& e) {
        *err = e.code().value();
        return std::nullopt;
    }
}

// "never" must show fresh data; "auto" may show the old data of the same file for a while.
class BackingChange : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        mount_.emplace(std::vector<std::string>{"--cache=" + GetParam()});
        strict_ = GetParam() == "never";
    }
    void TearDown() override {
        ASSERT_EQ(kill(mount_->pid(), 0), 0) << "daemon died\n" << mount_->log();
        test::expect_clean_unmount(*mount_);
    }
    fs::path b(std::string_view rel) const { return mount_->b(rel); }
    fs::path m(std::string_view rel) const { return mount_->m(rel); }
    std::optional<test::Mount> mount_;
    bool strict_ = false;
};

TEST_P(BackingChange, TruncatedOutside) {
    const Bytes x = test::random_bytes(11, kSize), y = test::random_bytes(12, kSize);
    test::write_file(b("x"), x);
    test::write_file(b("y"), y);
    ASSERT_EQ(test::read_file(m("x")), x);
    ASSERT_EQ(test::read_file(m("y")), y);
    const test::Fd held = test::open_fd(m("x"), O_RDONLY);
    ASSERT_TRUE(held.valid());

    ASSERT_EQ(truncate(b("x").c_str(), 100000), 0);
    const Bytes fresh(x.begin(), x.begin() + 100000);

    const Bytes again = test::read_file(m("x"));
    EXPECT_EQ(foreign_bytes(again, x, fresh), 0u);
    EXPECT_LE(again.size(), x.size());
    if (strict_) {
        EXPECT_EQ(again, fresh);
    }
    // The fd opened before: old bytes of x, zeros or EOF; never y's.
    const Bytes tail = test::pread_exact(held.get(), 300000, 500000);
    EXPECT_EQ(foreign_bytes(tail, Bytes(x.begin() + 500000, x.end()), Bytes{}), 0u);
    EXPECT_EQ(test::read_file(m("y")), y);
}

TEST_P(BackingChange, ReplacedByRenameOutside) {
    const Bytes x = test::random_bytes(21, kSize), z = test::random_bytes(23, 700000);
    test::write_file(b("x"), x);
    ASSERT_EQ(test::read_file(m("x")), x);
    const test::Fd held = test::open_fd(m("x"), O_RDONLY);
    ASSERT_TRUE(held.valid());

    test::write_file(b("z.tmp"), z);
    ASSERT_EQ(rename(b("z.tmp").c_str(), b("x").c_str()), 0);

    // An fd opened before the rename keeps reading the file it opened.
    EXPECT_EQ(test::pread_exact(held.get(), kSize, 0), x);
    const Bytes now = test::read_file(m("x"));
    EXPECT_TRUE(now == x || now == z)
        << "size " << now.size() << ", foreign bytes " << foreign_bytes(now, x, z);
    if (strict_) {
        EXPECT_EQ(now, z);
    }
    int err = 0;
    const auto gone = try_read(m("z.tmp"), &err);
    EXPECT_FALSE(gone.has_value());
    EXPECT_EQ(err, ENOENT);
}

TEST_P(BackingChange, DirectoryRemovedAndReplacedOutside) {
    fs::create_directory(b("d"));
    const Bytes a = test::random_bytes(31, 200000), bb = test::random_bytes(32, 200000);
    const Bytes c = test::random_bytes(33, 200000);
    test::write_file(b("d/a"), a);
    test::write_file(b("d/b"), bb);
    ASSERT_EQ(test::list_dir(m("d")).size(), 2u);
    const test::Fd held = test::open_fd(m("d/a"), O_RDONLY);
    ASSERT_TRUE(held.valid());
    const test::Fd dirfd = test::open_fd(m("d"), O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(dirfd.valid());

    fs::remove_all(b("d"));

    EXPECT_EQ(test::pread_exact(held.get(), a.size(), 0), a);  // open file, deleted name
    int err = 0;
    const auto rb = try_read(m("d/b"), &err);
    if (rb) {
        EXPECT_FALSE(strict_) << "cache=never served a deleted file";
        EXPECT_EQ(*rb, bb);
    } else {
        EXPECT_EQ(err, ENOENT) << std::strerror(err);
    }
    // Creating in the deleted directory (by name, or through the fd held on it).
    errno = 0;
    const int created = openat(dirfd.get(), "new", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    const int created_err = errno;
    if (created >= 0) close(created);
    EXPECT_EQ(created, -1);
    EXPECT_EQ(created_err, ENOENT) << std::strerror(created_err);
    EXPECT_FALSE(fs::exists(b("d")));
    // Reading the deleted directory: empty or an error, never names from elsewhere.
    {
        const int dup_fd = openat(dirfd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dup_fd >= 0) {
            DIR* dir = fdopendir(dup_fd);
            ASSERT_NE(dir, nullptr);
            std::set<std::string> names;
            while (const dirent* e = readdir(dir)) names.insert(e->d_name);
            closedir(dir);
            names.erase(".");
            names.erase("..");
            EXPECT_TRUE(names.empty()) << *names.begin();
        }
    }

    // Recreated outside with other contents.
    fs::create_directory(b("d"));
    test::write_file(b("d/c"), c);
    if (strict_) {
        const auto names = test::list_dir(m("d"));
        ASSERT_EQ(names.size(), 1u);
        EXPECT_EQ(names.begin()->first, "c");
    }
    const auto rc = try_read(m("d/c"), &err);
    if (rc) {
        EXPECT_EQ(*rc, c);
    } else {
        EXPECT_FALSE(strict_) << std::strerror(err);
        EXPECT_EQ(err, ENOENT);
    }
    const auto ra = try_read(m("d/a"), &err);
    if (ra) {
        EXPECT_FALSE(strict_);
        EXPECT_EQ(*ra, a);
    }
}

TEST_P(BackingChange, BackingRootRenamedAndDeleted) {
    test::write_file(b("f"), "first tree");
    fs::create_directory(b("sub"));
    ASSERT_EQ(test::list_dir(m("")).size(), 2u);
    const fs::path moved = mount_->root() / "backing.old";
    fs::rename(mount_->backing(), moved);
    fs::create_directory(mount_->backing());
    test::write_file(b("g"), "second tree");

    // The daemon holds the root it was started on: it keeps serving that tree (renamed), or
    // errors; never a mixture.
    struct stat st {};
    EXPECT_EQ(stat(m("").c_str(), &st), 0) << std::strerror(errno);
    const auto listed = test::list_dir(m(""));
    EXPECT_TRUE(listed.count("g") == 0 || listed.count("f") == 0);

    fs::remove_all(moved);
    errno = 0;
    const int r = stat(m("").c_str(), &st);
    EXPECT_TRUE(r == 0 || errno == ENOENT || errno == ESTALE) << std::strerror(errno);
    errno = 0;
    const int fd = open(m("created").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    const int e = errno;
    if (fd >= 0) close(fd);
    EXPECT_EQ(fd, -1) << "created a file in a deleted root";
    EXPECT_TRUE(e == ENOENT || e == ESTALE) << std::strerror(e);
    int err = 0;
    const auto f = try_read(m("f"), &err);
    if (f) {
        EXPECT_EQ(*f, test::to_bytes("first tree"));
    }
    EXPECT_FALSE(fs::exists(mount_->root() / "created"));
    EXPECT_FALSE(fs::exists(b("created")));
}

INSTANTIATE_TEST_SUITE_P(Cache, BackingChange, ::testing::Values("auto", "never"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace splicefs::reltest
