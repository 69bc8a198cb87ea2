// readdir: names and d_ino equal to the backing's, big directories, changes seen.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "mount_fixture.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

using DirTest = MountTest;

struct DirCloser {
    void operator()(DIR* d) const noexcept { closedir(d); }
};

TEST_F(DirTest, NamesAndInodesMatchBacking) {
    write_file(b("file"), "x");
    ASSERT_EQ(mkdir(b("dir").c_str(), 0755), 0);
    ASSERT_EQ(symlink("file", b("link").c_str()), 0);
    ASSERT_EQ(mkfifo(b("fifo").c_str(), 0600), 0);
    ASSERT_EQ(link(b("file").c_str(), b("hard").c_str()), 0);
    const auto mnt = list_dir(mount().mnt());
    const auto bck = list_dir(mount().backing());
    EXPECT_EQ(mnt, bck);
    EXPECT_EQ(mnt.size(), 5u);
    EXPECT_EQ(mnt.at("file"), mnt.at("hard"));
    EXPECT_TRUE(list_dir(m("dir")).empty());
}

TEST_F(DirTest, DotEntriesAndTypes) {
    ASSERT_EQ(mkdir(b("dir").c_str(), 0755), 0);
    write_file(b("dir/f"), "x");
    ASSERT_EQ(symlink("f", b("dir/l").c_str()), 0);
    const std::unique_ptr<DIR, DirCloser> dir(opendir(m("dir").c_str()));
    ASSERT_TRUE(dir) << std::strerror(errno);
    std::map<std::string, unsigned char> types;
    while (const dirent* e = readdir(dir.get())) types[e->d_name] = e->d_type;
    ASSERT_EQ(types.size(), 4u);
    EXPECT_TRUE(types.count(".") && types.count(".."));
    // DT_UNKNOWN is allowed by POSIX; if a type is given it must be right.
    if (types["f"] != DT_UNKNOWN) {
        EXPECT_EQ(types["f"], DT_REG);
    }
    if (types["l"] != DT_UNKNOWN) {
        EXPECT_EQ(types["l"], DT_LNK);
    }
}

TEST_F(DirTest, FiveHundredLongNames) {
    ASSERT_EQ(mkdir(b("big").c_str(), 0755), 0);
    for (int i = 0; i < 500; ++i) {
        std::string name = std::to_string(i) + "-";
        name.append(240 - name.size(), static_cast<char>('a' + i % 26));
        if (i % 2 == 0) {
            write_file(b("big") / name, std::to_string(i));
        } else {
            ASSERT_EQ(mkdir((b("big") / name).c_str(), 0755), 0);
        }
    }
    const auto mnt = list_dir(m("big"));
    const auto bck = list_dir(b("big"));
    EXPECT_EQ(mnt.size(), 500u);
    EXPECT_EQ(mnt, bck);
    // Lookups of the listed names agree too.
    int checked = 0;
    for (const auto& [name, ino] : mnt) {
        if (++checked % 50 != 0) continue;
        EXPECT_EQ(lstat_of(m("big") / name).st_ino, ino) << name;
    }
}

TEST_F(DirTest, ChangesThroughTheMountAreListed) {
    ASSERT_EQ(mkdir(m("d").c_str(), 0755), 0);
    for (int i = 0; i < 20; ++i) write_file(m("d") / ("f" + std::to_string(i)), "x");
    EXPECT_EQ(list_dir(m("d")).size(), 20u);
    for (int i = 0; i < 20; i += 2) ASSERT_EQ(unlink((m("d") / ("f" + std::to_string(i))).c_str()), 0);
    ASSERT_EQ(rename(m("d/f1").c_str(), m("d/renamed").c_str()), 0);
    const auto mnt = list_dir(m("d"));
    EXPECT_EQ(mnt.size(), 10u);
    EXPECT_EQ(mnt, list_dir(b("d")));
    EXPECT_TRUE(mnt.count("renamed"));
}

TEST_F(DirTest, RewindAndReadAgain) {
    for (int i = 0; i < 100; ++i) write_file(b("f" + std::to_string(i)), "x");
    const std::unique_ptr<DIR, DirCloser> dir(opendir(mount().mnt().c_str()));
    ASSERT_TRUE(dir) << std::strerror(errno);
    auto count = [&] {
        int n = 0;
        while (readdir(dir.get()) != nullptr) ++n;
        return n;
    };
    EXPECT_EQ(count(), 102);
    rewinddir(dir.get());
    EXPECT_EQ(count(), 102);
    // seekdir back to a position from telldir resumes there.
    rewinddir(dir.get());
    for (int i = 0; i < 50; ++i) ASSERT_NE(readdir(dir.get()), nullptr);
    const long pos = telldir(dir.get());
    const dirent* next = readdir(dir.get());
    ASSERT_NE(next, nullptr);
    const std::string expected = next->d_name;
    seekdir(dir.get(), pos);
    const dirent* again = readdir(dir.get());
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(again->d_name, expected);
}

TEST_F(DirTest, ErrorsOnNonDirectories) {
    write_file(b("file"), "x");
    errno = 0;
    const std::unique_ptr<DIR, DirCloser> not_dir(opendir(m("file").c_str()));
    EXPECT_FALSE(not_dir);
    EXPECT_EQ(errno, ENOTDIR);
    errno = 0;
    const std::unique_ptr<DIR, DirCloser> missing(opendir(m("missing").c_str()));
    EXPECT_FALSE(missing);
    EXPECT_EQ(errno, ENOENT);
    const Fd d = open_fd(mount().mnt(), O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(d.valid()) << std::strerror(errno);
    EXPECT_EQ(fsync(d.get()), 0) << std::strerror(errno);  // fsyncdir
}

}  // namespace
}  // namespace splicefs::test
