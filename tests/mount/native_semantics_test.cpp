// Behaviours a native mount has and a FUSE mirror must be told about: mmap of files opened
// O_DIRECT (FUSE_DIRECT_IO_ALLOW_MMAP in the INIT reply), the dev/suid/exec mount flags, and
// the atime words (noatime/nodiratime: the daemon's backing reads leave atime alone).
// remount ro/rw goes through mount(8): tests/packaging/remount.sh.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>
#include <string>

#include "mount_fixture.hpp"
#include "mount_info.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

constexpr std::size_t kPage = 4096;

// A mapping that is always unmapped.
class Mapping {
public:
    Mapping(int fd, std::size_t len, int prot, int flags)
        : len_(len), addr_(::mmap(nullptr, len, prot, flags, fd, 0)) {}
    ~Mapping() {
        if (ok()) ::munmap(addr_, len_);
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    [[nodiscard]] bool ok() const { return addr_ != MAP_FAILED; }
    [[nodiscard]] unsigned char* bytes() const { return static_cast<unsigned char*>(addr_); }
    [[nodiscard]] Bytes copy() const { return {bytes(), bytes() + len_}; }

private:
    std::size_t len_;
    void* addr_;
};

Bytes slice(const Bytes& b, std::size_t off, std::size_t n) {
    return {b.begin() + static_cast<std::ptrdiff_t>(off), b.begin() + static_cast<std::ptrdiff_t>(off + n)};
}

// Shared and private mappings of a file opened with O_DIRECT, both directions.
void check_direct_io_mappings(const fs::path& mounted, const fs::path& backing) {
    const Bytes data = random_bytes(161, 16 * kPage);
    write_file(backing, data);
    const Fd fd = open_fd(mounted, O_RDWR | O_DIRECT);
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    {
        const Mapping shared(fd.get(), 4 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED);
        ASSERT_TRUE(shared.ok()) << "shared mmap of an O_DIRECT open: " << std::strerror(errno);
        EXPECT_EQ(shared.copy(), slice(data, 0, 4 * kPage));
        std::memcpy(shared.bytes() + 100, "through the mapping", 19);
        ASSERT_EQ(msync(shared.bytes(), 4 * kPage, MS_SYNC), 0) << std::strerror(errno);
    }
    Bytes expected = data;
    std::memcpy(expected.data() + 100, "through the mapping", 19);
    EXPECT_EQ(read_file(backing), expected) << "a shared mapping's write reaches the backing file";
    {
        const Mapping priv(fd.get(), 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE);
        ASSERT_TRUE(priv.ok()) << "private mmap of an O_DIRECT open: " << std::strerror(errno);
        EXPECT_EQ(priv.copy(), slice(expected, 0, 2 * kPage));
        std::memcpy(priv.bytes(), "private", 7);
    }
    EXPECT_EQ(read_file(backing), expected) << "a private mapping's write stays private";

    // Changed underneath, in the backing dir: a new mapping shows it.
    const Bytes outside = random_bytes(162, kPage);
    {
        const Fd raw = open_fd(backing, O_WRONLY);
        ASSERT_TRUE(raw.valid());
        pwrite_all(raw.get(), outside, static_cast<off_t>(8 * kPage));
    }
    const Fd again = open_fd(mounted, O_RDONLY | O_DIRECT);
    ASSERT_TRUE(again.valid()) << std::strerror(errno);
    const Mapping tail(again.get(), 9 * kPage, PROT_READ, MAP_SHARED);
    ASSERT_TRUE(tail.ok()) << std::strerror(errno);
    EXPECT_EQ(slice(tail.copy(), 8 * kPage, kPage), outside);
}

using DirectIoMmapTest = MountTest;

// xfs_io -d -c 'mmap -r 0 4k' -c 'mread 0 4k': ENODEV before FUSE_DIRECT_IO_ALLOW_MMAP.
TEST_F(DirectIoMmapTest, SharedAndPrivateMappingsOfODirectOpens) {
    check_direct_io_mappings(m("f"), b("f"));
    if (env_passthrough()) return;  // the kernel moved the data itself
    if (env_uring()) return;        // ring payloads are memory: read into, not spliced
    // The wire hooks did not take the splice data path away.
    write_file(b("big"), random_bytes(163, 1 << 20));
    (void)read_file(m("big"));
    const auto s = mount().stats();
    EXPECT_GT(s.reads.spliced_bytes, 0U) << s.json;
}

class NoCacheDirectIoTest : public MountTest {
protected:
    std::vector<std::string> mount_args() const override { return {"--cache=never", "--direct-io"}; }
};

TEST_F(NoCacheDirectIoTest, MmapWorksForEveryOpen) {
    check_direct_io_mappings(m("f"), b("f"));
    // A plain open is a direct-io handle too in this mode.
    write_file(b("plain"), random_bytes(164, 2 * kPage));
    const Fd fd = open_fd(m("plain"), O_RDWR);
    ASSERT_TRUE(fd.valid());
    const Mapping shared(fd.get(), 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED);
    ASSERT_TRUE(shared.ok()) << std::strerror(errno);
    shared.bytes()[5] = 'Z';
    ASSERT_EQ(msync(shared.bytes(), 2 * kPage, MS_SYNC), 0);
    EXPECT_EQ(read_file(b("plain")).at(5), 'Z');
}

bool mounted_with(const fs::path& mnt, const std::string& word) {
    const auto entries = read_mountinfo();
    const MountEntry* e = find_mount(entries, mnt);
    return e != nullptr && has_option(e->mount_options, word);
}

// Runs `path args...` as uid/gid 65534 and returns its stdout (empty if it could not run).
std::string run_as_nobody(const fs::path& path, const char* arg) {
    std::array<int, 2> p{};
    if (::pipe(p.data()) != 0) return {};
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(p[1], 1);
        if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(120);
        ::execl(path.c_str(), path.c_str(), arg, static_cast<char*>(nullptr));
        ::_exit(121);
    }
    ::close(p[1]);
    std::string out;
    std::array<char, 256> buf{};
    ssize_t n = 0;
    while ((n = ::read(p[0], buf.data(), buf.size())) > 0)
        out.append(buf.data(), static_cast<std::size_t>(n));
    ::close(p[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return out;
}

class DevSuidTest : public MountTest {
protected:
    std::vector<std::string> mount_args() const override { return {"-o", "dev,suid,allow_other"}; }
};

TEST_F(DevSuidTest, DeviceNodesOpenAndSetuidApplies) {
    if (geteuid() != 0) GTEST_SKIP() << "dev and suid need root";
    EXPECT_FALSE(mounted_with(mount().mnt(), "nodev"));
    EXPECT_FALSE(mounted_with(mount().mnt(), "nosuid"));
    ASSERT_EQ(mknod(m("zero").c_str(), S_IFCHR | 0666, makedev(1, 5)), 0) << std::strerror(errno);
    EXPECT_TRUE(S_ISCHR(lstat_of(b("zero")).st_mode)) << "the node exists in the backing dir";
    const Fd fd = open_fd(m("zero"), O_RDONLY);
    ASSERT_TRUE(fd.valid()) << "open of a char device through a dev mount: " << std::strerror(errno);
    std::array<char, 16> buf{};
    buf.fill('x');
    ASSERT_EQ(read(fd.get(), buf.data(), buf.size()), static_cast<ssize_t>(buf.size()));
    EXPECT_EQ(buf, decltype(buf){}) << "read /dev/zero's device through the mount";

    // A setuid-root copy of id(1), run as nobody, reports euid 0.
    ASSERT_EQ(chmod(mount().root().c_str(), 0755), 0);
    write_file(b("id"), read_file("/usr/bin/id"), 04755);
    ASSERT_EQ(chmod(b("id").c_str(), 04755), 0);
    EXPECT_EQ(run_as_nobody(m("id"), "-u"), "0\n");
}

using SafeDefaultsTest = MountTest;

TEST_F(SafeDefaultsTest, NodevNosuidUnlessAsked) {
    EXPECT_TRUE(mounted_with(mount().mnt(), "nodev"));
    EXPECT_TRUE(mounted_with(mount().mnt(), "nosuid"));
    if (geteuid() != 0) return;
    ASSERT_EQ(mknod(m("zero").c_str(), S_IFCHR | 0666, makedev(1, 5)), 0) << std::strerror(errno);
    EXPECT_FALSE(open_fd(m("zero"), O_RDONLY).valid());
    EXPECT_EQ(errno, EACCES);
}

class NoexecTest : public MountTest {
protected:
    std::vector<std::string> mount_args() const override { return {"-o", "noexec"}; }
};

TEST_F(NoexecTest, ProgramsDoNotRun) {
    EXPECT_TRUE(mounted_with(mount().mnt(), "noexec"));
    write_file(b("true"), read_file("/bin/true"), 0755);
    ASSERT_EQ(chmod(b("true").c_str(), 0755), 0);
    const int rc = run_in_child([&] {
        ::execl(m("true").c_str(), "true", static_cast<char*>(nullptr));
        return errno == EACCES ? 42 : 43;
    });
    EXPECT_EQ(rc, 42) << "execve through a noexec mount fails with EACCES";
}

// Sets the backing atime of `p` to a fixed past time (mtime untouched).
void age_atime(const fs::path& p) {
    const std::array<timespec, 2> times{{{1600000000, 0}, {0, UTIME_OMIT}}};
    ASSERT_EQ(utimensat(AT_FDCWD, p.c_str(), times.data(), AT_SYMLINK_NOFOLLOW), 0) << std::strerror(errno);
}

bool atime_aged(const fs::path& p) {
    return lstat_of(p).st_atim.tv_sec == 1600000000;
}

// Reads `f` and lists `d` through the mount, after aging both backing atimes.
void read_through(const fs::path& mf, const fs::path& md, const fs::path& bf, const fs::path& bd) {
    age_atime(bf);
    age_atime(bd);
    EXPECT_EQ(read_file(mf).size(), 3 * kPage);
    (void)list_dir(md);
}

class AtimeTest : public MountTest {
protected:
    void prepare() {
        write_file(b("f"), random_bytes(165, 3 * kPage));
        ASSERT_EQ(mkdir(b("d").c_str(), 0755), 0);
        write_file(b("d/x"), "x");
    }
};

// Control: without noatime the daemon's reads move the backing atime (relatime: the aged
// atime is older than ctime), as a native read would.
TEST_F(AtimeTest, RelatimeReadsUpdateTheBackingAtime) {
    prepare();
    read_through(m("f"), m("d"), b("f"), b("d"));
    EXPECT_FALSE(atime_aged(b("f"))) << "a read through the mount updates atime (relatime)";
    EXPECT_FALSE(atime_aged(b("d"))) << "a listing through the mount updates the directory's atime";
}

class NoatimeTest : public AtimeTest {
protected:
    std::vector<std::string> mount_args() const override { return {"-o", "noatime"}; }
};

TEST_F(NoatimeTest, ReadsLeaveTheBackingAtime) {
    EXPECT_TRUE(mounted_with(mount().mnt(), "noatime"));
    prepare();
    read_through(m("f"), m("d"), b("f"), b("d"));
    EXPECT_TRUE(atime_aged(b("d"))) << "noatime implies nodiratime";
    // Kernel passthrough reads through a backing file the kernel opens itself, with the
    // caller's flags: the backing mount's atime policy applies (KD-ATIME-PASSTHROUGH).
    if (env_passthrough()) return;
    EXPECT_TRUE(atime_aged(b("f"))) << "noatime: reading through the mount left the backing atime";
    // mmap reads too.
    const Fd fd = open_fd(m("f"), O_RDONLY);
    ASSERT_TRUE(fd.valid());
    const Mapping map(fd.get(), kPage, PROT_READ, MAP_PRIVATE);
    ASSERT_TRUE(map.ok());
    EXPECT_EQ(map.copy().size(), kPage);
    EXPECT_TRUE(atime_aged(b("f")));
}

class NodiratimeTest : public AtimeTest {
protected:
    std::vector<std::string> mount_args() const override { return {"-o", "nodiratime"}; }
};

TEST_F(NodiratimeTest, OnlyDirectoriesKeepTheirAtime) {
    prepare();
    read_through(m("f"), m("d"), b("f"), b("d"));
    EXPECT_FALSE(atime_aged(b("f"))) << "files: relatime as usual";
    EXPECT_TRUE(atime_aged(b("d"))) << "nodiratime: listing left the directory's atime";
}

}  // namespace
}  // namespace splicefs::test
