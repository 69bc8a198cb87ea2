// flock between two open files and POSIX record locks between two processes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "mount_fixture.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

using LocksTest = MountTest;

TEST_F(LocksTest, FlockBetweenTwoOpenFiles) {
    write_file(m("f"), "x");
    const Fd a = open_fd(m("f"), O_RDWR);
    const Fd bfd = open_fd(m("f"), O_RDWR);
    ASSERT_TRUE(a.valid() && bfd.valid()) << std::strerror(errno);
    ASSERT_EQ(flock(a.get(), LOCK_EX | LOCK_NB), 0) << std::strerror(errno);
    EXPECT_ERRNO(flock(bfd.get(), LOCK_EX | LOCK_NB), EWOULDBLOCK);
    EXPECT_ERRNO(flock(bfd.get(), LOCK_SH | LOCK_NB), EWOULDBLOCK);
    ASSERT_EQ(flock(a.get(), LOCK_UN), 0);
    EXPECT_EQ(flock(bfd.get(), LOCK_SH | LOCK_NB), 0) << std::strerror(errno);
    EXPECT_EQ(flock(a.get(), LOCK_SH | LOCK_NB), 0) << std::strerror(errno);  // shared + shared
    EXPECT_ERRNO(flock(a.get(), LOCK_EX | LOCK_NB), EWOULDBLOCK);
}

TEST_F(LocksTest, FlockConflictsWithAnotherProcess) {
    write_file(m("f"), "x");
    const Fd a = open_fd(m("f"), O_RDWR);
    ASSERT_EQ(flock(a.get(), LOCK_EX | LOCK_NB), 0) << std::strerror(errno);
    const fs::path p = m("f");
    EXPECT_EQ(run_in_child([&] {
                  const Fd c = open_fd(p, O_RDWR);
                  return flock(c.get(), LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK ? 0 : 1;
              }),
              0);
    ASSERT_EQ(flock(a.get(), LOCK_UN), 0);
    EXPECT_EQ(run_in_child([&] {
                  const Fd c = open_fd(p, O_RDWR);
                  return flock(c.get(), LOCK_EX | LOCK_NB) == 0 ? 0 : 1;
              }),
              0);
}

// More blocked flocks than the daemon's pool starts with (4): the pool must grow, so that an
// fsync and the flocks themselves still complete (a fixed pool would deadlock here: the
// holder's fsync would queue behind waiters that wait for the holder).
TEST_F(LocksTest, BlockedFlocksDoNotStarveOtherRequests) {
    const char* args = std::getenv("SPLICEFS_TEST_ARGS");
    if (args != nullptr &&
        (std::strstr(args, "--threads") != nullptr || std::strstr(args, "--clone-fd") != nullptr))
        GTEST_SKIP() << "libfuse's loop has a fixed number of workers: more waiters than workers block it";
    write_file(m("f"), "x");
    const Fd holder = open_fd(m("f"), O_RDWR);
    ASSERT_EQ(flock(holder.get(), LOCK_EX), 0) << std::strerror(errno);
    const fs::path p = m("f");
    std::vector<pid_t> waiters;
    for (int i = 0; i < 8; ++i) {
        const pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            const int fd = open(p.c_str(), O_RDWR | O_CLOEXEC);
            const bool ok = fd >= 0 && flock(fd, LOCK_EX) == 0 && flock(fd, LOCK_UN) == 0;
            _exit(ok ? 0 : 1);
        }
        waiters.push_back(pid);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let them block (not a timing assertion)
    write_file(m("g"), "data");
    const Fd g = open_fd(m("g"), O_RDWR);
    ASSERT_TRUE(g.valid());
    EXPECT_EQ(fsync(g.get()), 0) << std::strerror(errno);
    EXPECT_EQ(fsync(holder.get()), 0) << std::strerror(errno);
    ASSERT_EQ(flock(holder.get(), LOCK_UN), 0);
    for (const pid_t pid : waiters) {
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

struct flock make_lock(short type, off_t start, off_t len) {
    struct flock l {};
    l.l_type = type;
    l.l_whence = SEEK_SET;
    l.l_start = start;
    l.l_len = len;
    return l;
}

TEST_F(LocksTest, PosixRecordLocksBetweenProcesses) {
    write_file(m("f"), random_bytes(1, 1000));
    const Fd fd = open_fd(m("f"), O_RDWR);
    ASSERT_TRUE(fd.valid());
    struct flock l = make_lock(F_WRLCK, 0, 100);
    ASSERT_EQ(fcntl(fd.get(), F_SETLK, &l), 0) << std::strerror(errno);
    const fs::path p = m("f");
    const pid_t me = getpid();
    // Another process sees the conflict, who holds it, and can lock a disjoint range.
    EXPECT_EQ(run_in_child([&] {
                  const Fd c = open_fd(p, O_RDWR);
                  struct flock want = make_lock(F_WRLCK, 50, 10);
                  if (fcntl(c.get(), F_SETLK, &want) != -1 || (errno != EAGAIN && errno != EACCES)) return 1;
                  struct flock probe = make_lock(F_RDLCK, 0, 10);
                  if (fcntl(c.get(), F_GETLK, &probe) != 0) return 2;
                  if (probe.l_type != F_WRLCK || probe.l_pid != me) return 3;
                  struct flock other = make_lock(F_WRLCK, 200, 10);
                  if (fcntl(c.get(), F_SETLK, &other) != 0) return 4;
                  return 0;
              }),
              0);
    // Read locks share.
    l = make_lock(F_RDLCK, 0, 100);
    ASSERT_EQ(fcntl(fd.get(), F_SETLK, &l), 0) << std::strerror(errno);
    EXPECT_EQ(run_in_child([&] {
                  const Fd c = open_fd(p, O_RDONLY);
                  struct flock want = make_lock(F_RDLCK, 0, 100);
                  return fcntl(c.get(), F_SETLK, &want) == 0 ? 0 : 1;
              }),
              0);
    // Unlock releases it for others.
    l = make_lock(F_UNLCK, 0, 0);
    ASSERT_EQ(fcntl(fd.get(), F_SETLK, &l), 0);
    EXPECT_EQ(run_in_child([&] {
                  const Fd c = open_fd(p, O_RDWR);
                  struct flock want = make_lock(F_WRLCK, 0, 0);
                  return fcntl(c.get(), F_SETLK, &want) == 0 ? 0 : 1;
              }),
              0);
}

TEST_F(LocksTest, ClosingAnyFdDropsThePosixLocks) {
    write_file(m("f"), "x");
    const Fd a = open_fd(m("f"), O_RDWR);
    Fd second = open_fd(m("f"), O_RDWR);
    struct flock l = make_lock(F_WRLCK, 0, 0);
    ASSERT_EQ(fcntl(a.get(), F_SETLK, &l), 0) << std::strerror(errno);
    second.reset();  // POSIX: closing any fd of the file drops the process's locks
    const fs::path p = m("f");
    EXPECT_EQ(run_in_child([&] {
                  const Fd c = open_fd(p, O_RDWR);
                  struct flock want = make_lock(F_WRLCK, 0, 0);
                  return fcntl(c.get(), F_SETLK, &want) == 0 ? 0 : 1;
              }),
              0);
}

TEST_F(LocksTest, OpenFileDescriptionLocksBetweenTwoFds) {
    write_file(m("f"), "x");
    const Fd a = open_fd(m("f"), O_RDWR);
    const Fd bfd = open_fd(m("f"), O_RDWR);
    struct flock l = make_lock(F_WRLCK, 0, 10);
    ASSERT_EQ(fcntl(a.get(), F_OFD_SETLK, &l), 0) << std::strerror(errno);
    struct flock w = make_lock(F_WRLCK, 5, 10);
    EXPECT_ERRNO(fcntl(bfd.get(), F_OFD_SETLK, &w), EAGAIN);
    l.l_type = F_UNLCK;
    ASSERT_EQ(fcntl(a.get(), F_OFD_SETLK, &l), 0);
    EXPECT_EQ(fcntl(bfd.get(), F_OFD_SETLK, &w), 0) << std::strerror(errno);
}

}  // namespace
}  // namespace splicefs::test
