// The survival area: a worker's state outlives it. A "worker" here is a clone(CLONE_FILES)
// child of the test, as in the real failover: it shares the fd table and the area's memfd
// mapping, not its memory. It is SIGKILLed (after its work, or at a random instruction), and a
// fresh Fs in the test process attaches with recovering = true.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fs/entry.hpp"
#include "fs/filesystem.hpp"
#include "fs/inflight.hpp"
#include "fs/ops.hpp"
#include "fs/survival.hpp"
#include "fs/survival_mirror.hpp"

namespace splicefs::fs {
namespace {

using survival::Area;

// fork semantics (a copy of our memory) with one shared fd table, like 13a's workers.
pid_t clone_worker() {
    return static_cast<pid_t>(::syscall(SYS_clone, CLONE_FILES | SIGCHLD, nullptr, nullptr, nullptr, 0));
}

// Memory the worker writes its results into (MAP_SHARED, so they outlive it).
template <typename T>
class SharedBlock {
public:
    SharedBlock()
        : p_(static_cast<T*>(
              ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0))) {
        if (p_ == MAP_FAILED) throw std::runtime_error("mmap");
        new (p_) T{};
    }
    ~SharedBlock() { ::munmap(p_, sizeof(T)); }
    SharedBlock(const SharedBlock&) = delete;
    SharedBlock& operator=(const SharedBlock&) = delete;
    T* operator->() const { return p_; }
    T& operator*() const { return *p_; }

private:
    T* p_;
};

std::set<int> open_fds() {
    std::set<int> fds;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
        fds.insert(std::stoi(e.path().filename()));
    return fds;
}

// The supervisor's sweep: closes what a dead worker left open that neither we nor the area own.
void sweep(const std::set<int>& keep, const Area& area) {
    const auto referenced = survival::referenced_fds(area);
    for (const int fd : open_fds()) {
        if (keep.count(fd) != 0 || std::find(referenced.begin(), referenced.end(), fd) != referenced.end())
            continue;
        ::close(fd);
    }
}

void close_all_but(const std::set<int>& keep) {
    for (const int fd : open_fds())
        if (keep.count(fd) == 0) ::close(fd);
}

class SurvivalTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = ::testing::TempDir() + "survival_XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        ASSERT_EQ(::mkdir((dir_ / "d").c_str(), 0755), 0);
        for (int i = 0; i < kListed; ++i) touch("d/entry-with-a-longish-name-" + std::to_string(i));
        for (int i = 0; i < kNames; ++i) touch("n" + std::to_string(i));
        touch("f");
        touch("gone");
        config_.backing = dir_;
        config_.watch = WatchMode::Off;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    void touch(const std::string& name) const { ASSERT_EQ(::close(::creat((dir_ / name).c_str(), 0644)), 0); }

    // A pristine Fs, as the supervisor builds it before cloning a worker.
    std::unique_ptr<Fs> make(Area& area, std::size_t fd_budget = InodeTable::kUnlimited) const {
        sys::UniqueFd root{::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
        struct stat st {};
        EXPECT_EQ(::fstat(root.get(), &st), 0);
        return std::make_unique<Fs>(config_, std::move(root), st, fd_budget, &area.stats());
    }

    static std::uint64_t lookup(Fs& fs, const std::string& name) {
        const auto root = fs.inode(InodeTable::kRootId);
        fuse_entry_param e{};
        if (lookup_entry(fs, root, name.c_str(), e) != 0) return 0;
        return e.ino;
    }

    static constexpr int kListed = 60;
    static constexpr int kNames = 24;
    std::filesystem::path dir_;
    Config config_;
};

// Names in a READDIR buffer (struct fuse_dirent records) and the offset after the last one.
std::vector<std::string> parse_listing(const std::vector<char>& buf, off_t& last_off) {
    std::vector<std::string> names;
    std::size_t pos = 0;
    while (pos + 24 <= buf.size()) {
        std::uint64_t off = 0;
        std::uint32_t namelen = 0;
        std::memcpy(&off, buf.data() + pos + 8, 8);
        std::memcpy(&namelen, buf.data() + pos + 16, 4);
        names.emplace_back(buf.data() + pos + 24, namelen);
        last_off = static_cast<off_t>(off);
        pos += (24 + namelen + 7) & ~std::size_t{7};
    }
    return names;
}

TEST(SurvivalAreaTest, CountersSurviveAndOnlyAnAreaIsAdopted) {
    auto area = Area::create(256);
    EXPECT_EQ(area.header().version, survival::kFormatVersion);
    area.stats().outside_changes.store(42);
    // adopt() is what an upgraded supervisor does after exec: in a process of its own, since
    // its mapping lands elsewhere and the Stats' strings are made anew there.
    const int dup = ::fcntl(area.fd(), F_DUPFD_CLOEXEC, 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        bool ok = false;
        try {
            auto again = Area::adopt(dup);
            ok = again.stats().outside_changes.load() == 42 && again.stats().backing_fs.empty();
            again.stats().outside_changes.store(43);
        } catch (...) {
        }
        ::_exit(ok ? 0 : 1);
    }
    ::close(dup);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(area.stats().outside_changes.load(), 43U);
    // The adopter replaces its creator (exec) in real life; here the creator lives on, and
    // its strings now belong to the adopter's mapping: made anew, as adopt() made them.
    std::construct_at(&area.stats().backing_fs);
    std::construct_at(&area.stats().watch_reason);
    std::construct_at(&area.stats().failover_off_reason);
    std::construct_at(&area.stats().handoff_version);

    const int zeros = ::memfd_create("not-an-area", MFD_CLOEXEC);
    ASSERT_GE(zeros, 0);
    ASSERT_EQ(::ftruncate(zeros, 1 << 16), 0);
    EXPECT_THROW((void)Area::adopt(zeros), std::runtime_error);
}

struct WorkerReport {
    std::uint64_t dir_id = 0, file_id = 0, gone_id = 0, last_id = 0, unopened_id = 0, closing_id = 0;
    int gone_fd = -1, dir_fd = -1;
    off_t listed_to = 0;
    char listed[8192] = {};  // the names the worker's READDIR reply carried, '/'-separated
};

TEST_F(SurvivalTest, AKilledWorkersStateIsRebuilt) {
    config_.watch = WatchMode::On;  // the backing watch marks (and pins) every looked-up directory
    config_.passthrough = true;
    auto area = Area::create(1024);
    auto pristine = make(area);
    const auto keep = open_fds();
    SharedBlock<WorkerReport> report;
    const pid_t pid = clone_worker();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        Fs& fs = *pristine;
        survival::attach(fs, area, false);
        auto& r = *report;
        r.dir_id = lookup(fs, "d");
        (void)lookup(fs, "d");  // two kernel references
        r.file_id = lookup(fs, "f");
        r.gone_id = lookup(fs, "gone");
        // An open handle of a file that is then unlinked: only its fd keeps it alive.
        r.gone_fd = ::openat(fs.inode(InodeTable::kRootId).fd(), "gone", O_RDWR | O_CLOEXEC);
        fs.own_handle_fd(r.gone_fd, r.gone_id, false);
        (void)!::pwrite(r.gone_fd, "hello", 5, 0);
        ::unlinkat(fs.inode(InodeTable::kRootId).fd(), "gone", 0);
        // A directory handle, listed part way.
        r.dir_fd = ::openat(fs.inode(InodeTable::kRootId).fd(), "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        fs.own_handle_fd(r.dir_fd, r.dir_id, true);
        fuse_file_info fi{};
        fi.fh = static_cast<std::uint64_t>(r.dir_fd);
        std::vector<char> buf;
        ops::fill_listing(fs, nullptr, r.dir_id, 1024, 0, &fi, false, buf);
        std::string joined;
        for (const auto& n : parse_listing(buf, r.listed_to)) joined += n + "/";
        std::memcpy(r.listed, joined.data(), std::min(joined.size(), sizeof r.listed - 1));
        fs.forget(r.file_id, 1);
        r.last_id = lookup(fs, "n0");
        // Kernel passthrough backing ids (the ioctls need a live connection; what passthrough.cpp
        // records is this). n0: an id shared by two open handles, recorded with a third open
        // whose worker died before it owned its handle.
        for (int i = 0; i < 2; ++i)
            fs.own_handle_fd(::openat(fs.inode(InodeTable::kRootId).fd(), "n0", O_RDONLY | O_CLOEXEC),
                             r.last_id, false);
        fs.mirror->set_passthrough(fs.inodes.find_inode(r.last_id)->survival_slot, 5, 3);
        // n1: an id recorded with one open and no handle; n2: an id recorded as being closed.
        r.unopened_id = lookup(fs, "n1");
        fs.mirror->set_passthrough(fs.inodes.find_inode(r.unopened_id)->survival_slot, 6, 1);
        r.closing_id = lookup(fs, "n2");
        fs.mirror->set_passthrough(fs.inodes.find_inode(r.closing_id)->survival_slot, -7, 0);
        fs.stats.outside_changes.fetch_add(7);
        ::kill(::getpid(), SIGKILL);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status));
    const auto& r = *report;
    ASSERT_NE(r.dir_id, 0U);
    ASSERT_GE(r.gone_fd, 0);
    ASSERT_GE(r.dir_fd, 0);

    // The supervisor's sweep keeps the handles and the recorded O_PATH fds.
    const auto referenced = survival::referenced_fds(area);
    EXPECT_NE(std::find(referenced.begin(), referenced.end(), r.gone_fd), referenced.end());
    EXPECT_NE(std::find(referenced.begin(), referenced.end(), r.dir_fd), referenced.end());
    sweep(keep, area);

    auto next = make(area);
    survival::attach(*next, area, true);
    const auto rec = survival::last_recovery();
    EXPECT_EQ(rec.open_files, 3U);
    EXPECT_EQ(rec.open_dirs, 1U);
    EXPECT_EQ(area.stats().outside_changes.load(), 7U);

    // Known inodes and their counts: d twice, f forgotten, n0 once.
    const auto d = next->inode(r.dir_id);
    ASSERT_TRUE(d);
    if (next->watch) {
        EXPECT_TRUE(d->watched.load());  // marked again, so that its forget unmarks it
    }
    struct stat st {};
    ASSERT_EQ(::fstat(d.fd(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_ino, d->ino);
    EXPECT_EQ(next->inode(r.file_id).error(), ESTALE);
    EXPECT_TRUE(next->inode(r.last_id));
    EXPECT_EQ(rec.passthrough, 1U);
    EXPECT_EQ(next->inodes.find_inode(r.last_id)->passthrough.backing_id, 5);
    EXPECT_EQ(next->inodes.find_inode(r.last_id)->passthrough.opens, 2U);  // the handles owned
    for (const auto id : {r.unopened_id, r.closing_id}) {
        const auto inode = next->inodes.find_inode(id);
        ASSERT_TRUE(inode);
        EXPECT_EQ(inode->passthrough.backing_id, 0);  // closed, and recorded so
        EXPECT_EQ(inode->passthrough.opens, 0U);
        EXPECT_EQ(area.nodes()[inode->survival_slot].passthrough.load(), 0U);
    }
    EXPECT_EQ(lookup(*next, "d"), r.dir_id);  // the same name gives the same id (count 3)
    next->forget(r.dir_id, 2);
    EXPECT_TRUE(next->inodes.find_inode(r.dir_id));
    next->forget(r.dir_id, 1);
    EXPECT_FALSE(next->inodes.find_inode(r.dir_id));
    // Ids never repeat across workers.
    EXPECT_GT(lookup(*next, "f"), r.last_id);

    // The unlinked file is still readable and writable through its handle.
    char got[5] = {};
    EXPECT_EQ(::pread(r.gone_fd, got, 5, 0), 5);
    EXPECT_EQ(std::string(got, 5), "hello");
    EXPECT_EQ(::pwrite(r.gone_fd, "world", 5, 5), 5);
    EXPECT_EQ(::fstat(r.gone_fd, &st), 0);
    EXPECT_EQ(st.st_nlink, 0U);
    EXPECT_EQ(st.st_size, 10);

    // The listing continues where the dead worker's reply ended: every name exactly once.
    std::multiset<std::string> names;
    const std::string before(r.listed);
    for (std::size_t start = 0, slash; (slash = before.find('/', start)) != std::string::npos;
         start = slash + 1)
        names.insert(before.substr(start, slash - start));
    ASSERT_GT(names.size(), 2U);
    ASSERT_LT(names.size(), static_cast<std::size_t>(kListed));
    fuse_file_info fi{};
    fi.fh = static_cast<std::uint64_t>(r.dir_fd);
    off_t off = r.listed_to;
    for (;;) {
        std::vector<char> buf;
        ASSERT_EQ(ops::fill_listing(*next, nullptr, r.dir_id, 1024, off, &fi, false, buf), 0);
        if (buf.empty()) break;
        for (const auto& n : parse_listing(buf, off)) names.insert(n);
    }
    EXPECT_EQ(names.size(), static_cast<std::size_t>(kListed) + 2);
    for (const auto& n : names) EXPECT_EQ(names.count(n), 1U) << n;

    next.reset();
    close_all_but(keep);  // the kernel's RELEASEs, in this test
}

// The worker's record of what it did, one entry per finished lookup or forget.
struct Journal {
    static constexpr std::size_t kMax = 1 << 16;
    std::atomic<std::uint32_t> n{0};
    struct Entry {
        std::uint64_t id;
        std::uint64_t count;  // the lookup count after the op
        std::uint32_t name;
    } e[kMax];
};

TEST_F(SurvivalTest, RandomKillsLeaveARecoverableArea) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 30; ++round) {
        auto area = Area::create(1024);
        auto pristine = make(area, 8);  // few O_PATH fds: evictions and reopens by handle too
        const auto keep = open_fds();
        SharedBlock<Journal> journal;
        const auto seed = static_cast<std::uint32_t>(rng());
        const pid_t pid = clone_worker();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            Fs& fs = *pristine;
            survival::attach(fs, area, false);
            std::mt19937 r(seed);
            std::map<std::uint64_t, std::pair<std::uint64_t, std::uint32_t>> known;  // id -> count, name
            for (std::uint32_t i = 0; i < Journal::kMax; ++i) {
                Journal::Entry e{};
                if (known.empty() || r() % 3 != 0) {
                    e.name = static_cast<std::uint32_t>(r() % kNames);
                    e.id = lookup(fs, "n" + std::to_string(e.name));
                    (void)fs.inode(e.id);  // opens its O_PATH fd (evicting the coldest beyond 8)
                    auto& k = known[e.id];
                    k = {k.first + 1, e.name};
                    e.count = k.first;
                } else {
                    auto it = known.begin();
                    std::advance(it, static_cast<long>(r() % known.size()));
                    e.id = it->first;
                    e.name = it->second.second;
                    fs.forget(e.id, 1);
                    e.count = --it->second.first;
                    if (e.count == 0) known.erase(it);
                }
                journal->e[i] = e;
                journal->n.store(i + 1, std::memory_order_release);
            }
            ::pause();
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 20000));
        ::kill(pid, SIGKILL);
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        sweep(keep, area);

        // The model after the journal; the op in flight at the kill may or may not be recorded.
        const auto done = journal->n.load(std::memory_order_acquire);
        std::map<std::uint64_t, std::uint64_t> model;
        std::map<std::uint64_t, std::uint32_t> name_of;
        for (std::uint32_t i = 0; i < done; ++i) {
            model[journal->e[i].id] = journal->e[i].count;
            name_of[journal->e[i].id] = journal->e[i].name;
        }
        auto next = make(area, 8);
        survival::attach(*next, area, true);
        for (const int fd : survival::referenced_fds(area)) EXPECT_GE(::fcntl(fd, F_GETFD), 0) << fd;

        std::size_t off_by_one = 0;
        std::size_t live = 0;
        for (const auto& [id, count] : model) {
            if (count == 0) {
                if (next->inodes.find_inode(id)) ++off_by_one;  // a lookup in flight at the kill
                continue;
            }
            ++live;
            const auto ref = next->inode(id);
            if (!ref) {
                ++off_by_one;  // a forget in flight
                continue;
            }
            struct stat st {};
            ASSERT_EQ(::fstat(ref.fd(), &st), 0);
            EXPECT_EQ(st.st_ino, ref->ino);  // an adopted fd names its inode
            // Same name, same id; then the count, by forgetting it (+1 for this lookup).
            EXPECT_EQ(lookup(*next, "n" + std::to_string(name_of[id])), id);
            next->forget(id, count);
            if (next->inodes.find_inode(id)) {
                next->forget(id, 1);
                if (next->inodes.find_inode(id)) ++off_by_one;
            } else {
                ++off_by_one;
            }
        }
        EXPECT_LE(off_by_one, 1U) << "round " << round << " after " << done << " ops";
        (void)live;
        next.reset();
        close_all_but(keep);
    }
}

}  // namespace
}  // namespace splicefs::fs

namespace splicefs::fs {
namespace {

// What libfuse 3.14's struct fuse_req starts with (inflight.hpp reads the unique there).
struct FakeReq {
    fuse_session* se;
    std::uint64_t unique;
};

class InflightTest : public SurvivalTest {
protected:
    // A worker that opens a record for `unique`, runs `work` and dies before its reply.
    template <typename Work>
    void worker_dies_after(Area& area, Fs& pristine, Op op, std::uint64_t unique, Work work) {
        const pid_t pid = clone_worker();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            survival::attach(pristine, area, false);
            pristine.session = session();
            FakeReq req{session(), unique};
            const inflight::Scope scope(pristine, reinterpret_cast<fuse_req_t>(&req), op);
            work(pristine);
            ::kill(::getpid(), SIGKILL);
        }
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    }
    std::unique_ptr<Fs> next_worker(Area& area) {
        auto fs = make(area);
        survival::attach(*fs, area, true);
        fs->session = session();
        return fs;
    }
    fuse_session* session() { return reinterpret_cast<fuse_session*>(&session_stand_in_); }
    int mkdir_x(int dirfd) const { return ::mkdirat(dirfd, "x", 0755); }
    int root_fd() const { return fd_.get(); }
    sys::UniqueFd open_for_append() const {
        return sys::UniqueFd{::openat(root_fd(), "f", O_WRONLY | O_APPEND | O_CLOEXEC)};
    }
    // A first delivery's append_replay(): nothing recorded yet, so its write goes ahead.
    static bool writes_now(std::uint64_t size_now, std::uint64_t len) {
        std::uint64_t part = 0;
        return !inflight::append_replay(size_now, len, part).has_value() && part == 0;
    }
    void SetUp() override {
        SurvivalTest::SetUp();
        fd_.reset(::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
    void TearDown() override {
        fd_.reset();
        SurvivalTest::TearDown();
    }

    int session_stand_in_ = 0;
    sys::UniqueFd fd_;
};

constexpr std::uint64_t kResent = inflight::kResentBit;

TEST_F(InflightTest, AResentMkdirThatRanIsAnsweredAsDoneWithoutRunningAgain) {
    auto area = Area::create(256);
    auto pristine = make(area);
    worker_dies_after(area, *pristine, Op::Mkdir, 100,
                      [&](Fs&) { EXPECT_EQ(inflight::run([&] { return mkdir_x(root_fd()); }, EEXIST), 0); });
    auto next = next_worker(area);
    FakeReq resent{session(), 100 | kResent};
    const inflight::Scope scope(*next, reinterpret_cast<fuse_req_t>(&resent), Op::Mkdir);
    EXPECT_EQ(scope.error(), 0);
    EXPECT_TRUE(inflight::already_done());
    bool ran = false;
    EXPECT_EQ(inflight::run(
                  [&] {
                      ran = true;
                      return mkdir_x(root_fd());
                  },
                  EEXIST),
              0);
    EXPECT_FALSE(ran);
    EXPECT_EQ(area.stats().resend_window_hits.load(), 0U);
}

TEST_F(InflightTest, AResentMkdirThatFailedGetsItsErrorBack) {
    auto area = Area::create(256);
    auto pristine = make(area);
    ASSERT_EQ(mkdir_x(root_fd()), 0);
    worker_dies_after(area, *pristine, Op::Mkdir, 200, [&](Fs&) {
        EXPECT_EQ(inflight::run([&] { return mkdir_x(root_fd()); }, EEXIST), EEXIST);
    });
    auto next = next_worker(area);
    FakeReq resent{session(), 200 | kResent};
    const inflight::Scope scope(*next, reinterpret_cast<fuse_req_t>(&resent), Op::Mkdir);
    EXPECT_EQ(scope.error(), EEXIST);
}

TEST_F(InflightTest, DeathBetweenSyscallAndRecordIsTheCountedWindow) {
    auto area = Area::create(256);
    auto pristine = make(area);
    // The syscall ran; the worker died before settle() recorded it.
    worker_dies_after(area, *pristine, Op::Unlink, 300, [&](Fs&) {
        inflight::mark_started();
        ASSERT_EQ(::unlinkat(root_fd(), "f", 0), 0);
    });
    auto next = next_worker(area);
    FakeReq resent{session(), 300 | kResent};
    const inflight::Scope scope(*next, reinterpret_cast<fuse_req_t>(&resent), Op::Unlink);
    EXPECT_FALSE(inflight::already_done());
    EXPECT_EQ(inflight::run([&] { return ::unlinkat(root_fd(), "f", 0); }, ENOENT), 0);
    EXPECT_EQ(area.stats().resend_window_hits.load(), 1U);
}

TEST_F(InflightTest, ARequestThatNeverStartedRunsNormally) {
    auto area = Area::create(256);
    auto pristine = make(area);
    worker_dies_after(area, *pristine, Op::Rmdir, 400, [&](Fs&) {});  // claimed, never started
    auto next = next_worker(area);
    FakeReq resent{session(), 400 | kResent};
    const inflight::Scope scope(*next, reinterpret_cast<fuse_req_t>(&resent), Op::Rmdir);
    EXPECT_FALSE(inflight::already_done());
    // A real error is still an error (the name is not a directory that exists).
    EXPECT_EQ(inflight::run([&] { return ::unlinkat(root_fd(), "nothing", AT_REMOVEDIR); }, ENOENT), ENOENT);
}

// The xattr ops recorded since a chaos run's resent setxattr(XATTR_CREATE) answered EEXIST.
TEST_F(InflightTest, AResentXattrCreateOrRemoveThatRanIsNotAnsweredWithItsRepeatErrno) {
    const sys::UniqueFd file{::openat(root_fd(), "xattrs", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)};
    ASSERT_TRUE(file.valid());
    if (::fsetxattr(file.get(), "user.probe", "1", 1, 0) != 0) GTEST_SKIP() << "no user xattrs here";
    auto area = Area::create(256);
    auto pristine = make(area);
    const auto create = [&] { return ::fsetxattr(file.get(), "user.one", "v", 1, XATTR_CREATE); };
    const auto remove = [&] { return ::fremovexattr(file.get(), "user.probe"); };
    // 700: the create ran and was recorded; 800: the removal ran, the worker died before its record.
    worker_dies_after(area, *pristine, Op::Setxattr, 700,
                      [&](Fs&) { EXPECT_EQ(inflight::run(create, EEXIST), 0); });
    auto pristine2 = make(area);
    worker_dies_after(area, *pristine2, Op::Removexattr, 800, [&](Fs&) {
        inflight::mark_started();
        ASSERT_EQ(remove(), 0);
    });
    auto next = next_worker(area);
    {
        FakeReq resent{session(), 700 | kResent};
        const inflight::Scope scope(*next, reinterpret_cast<fuse_req_t>(&resent), Op::Setxattr);
        EXPECT_EQ(scope.error(), 0);
        EXPECT_EQ(inflight::run(create, EEXIST), 0);  // done: not run again
    }
    {
        FakeReq resent{session(), 800 | kResent};
        const inflight::Scope scope(*next, reinterpret_cast<fuse_req_t>(&resent), Op::Removexattr);
        EXPECT_EQ(inflight::run(remove, ENODATA), 0);  // the window: ENODATA read as "it ran"
    }
    EXPECT_EQ(area.stats().resend_window_hits.load(), 1U);
    // Without a record the repeats answer what they did before the fix.
    EXPECT_EQ(inflight::run(create, EEXIST), EEXIST);
    EXPECT_EQ(inflight::run(remove, ENODATA), ENODATA);
}

TEST_F(InflightTest, AnAppendingWriteIsNotAppendedTwice) {
    auto area = Area::create(256);
    auto pristine = make(area);
    const sys::UniqueFd fd = open_for_append();
    ASSERT_TRUE(fd.valid());
    // 500: written and recorded; 600: written, the worker died before the record.
    worker_dies_after(area, *pristine, Op::Write, 500, [&](Fs&) {
        ASSERT_TRUE(writes_now(0, 5));
        ASSERT_EQ(::write(fd.get(), "hello", 5), 5);
        inflight::append_done(0, 5);
    });
    auto pristine2 = make(area);
    worker_dies_after(area, *pristine2, Op::Write, 600, [&](Fs&) {
        ASSERT_TRUE(writes_now(5, 3));
        ASSERT_EQ(::write(fd.get(), "abc", 3), 3);
    });
    auto next = next_worker(area);
    {
        FakeReq resent{session(), 500 | kResent};
        const inflight::Scope scope(*next, reinterpret_cast<fuse_req_t>(&resent), Op::Write);
        std::uint64_t part = 0;
        EXPECT_EQ(inflight::append_replay(8, 5, part), std::optional<std::uint64_t>(5));
    }
    {
        FakeReq resent{session(), 600 | kResent};
        const inflight::Scope scope(*next, reinterpret_cast<fuse_req_t>(&resent), Op::Write);
        std::uint64_t part = 0;
        EXPECT_EQ(inflight::append_replay(8, 3, part), std::optional<std::uint64_t>(3));
    }
    EXPECT_EQ(area.stats().resend_window_hits.load(), 1U);
    struct stat st {};
    ASSERT_EQ(::fstat(fd.get(), &st), 0);
    EXPECT_EQ(st.st_size, 8);
}

TEST_F(InflightTest, AnAppendingWriteCutShortIsCompletedNotRepeated) {
    auto area = Area::create(256);
    auto pristine = make(area);
    const sys::UniqueFd fd = open_for_append();
    ASSERT_TRUE(fd.valid());
    // The first delivery wrote 2 of its 5 bytes (a copy in pieces, or a kill inside the write).
    worker_dies_after(area, *pristine, Op::Write, 650, [&](Fs&) {
        ASSERT_TRUE(writes_now(0, 5));
        ASSERT_EQ(::write(fd.get(), "he", 2), 2);
    });
    auto next = next_worker(area);
    FakeReq resent{session(), 650 | kResent};
    const inflight::Scope scope(*next, reinterpret_cast<fuse_req_t>(&resent), Op::Write);
    std::uint64_t part = 0;
    EXPECT_FALSE(inflight::append_replay(2, 5, part).has_value());
    EXPECT_EQ(part, 2U);
    ASSERT_EQ(::write(fd.get(), "llo", 3), 3);  // what write_buf writes: the rest
    inflight::append_done(0, 5);
    std::array<char, 8> back{};
    const sys::UniqueFd rd{::openat(root_fd(), "f", O_RDONLY | O_CLOEXEC)};
    ASSERT_EQ(::read(rd.get(), back.data(), back.size()), 5);
    EXPECT_EQ(std::string(back.data(), 5), "hello");
    EXPECT_EQ(area.stats().resend_window_hits.load(), 1U);
}

TEST_F(InflightTest, AResentOpenClosesTheHandleItsFirstDeliveryMade) {
    auto area = Area::create(256);
    auto pristine = make(area);
    int first = -1;
    int not_owned = -1;
    // 800: the handle was made and owned, the reply never reached the kernel. 810: noted but
    // not owned yet (the supervisor's sweep closes such an fd; its number may be reused).
    worker_dies_after(area, *pristine, Op::Open, 800, [&](Fs& fs) {
        const int fd = ::openat(root_fd(), "f", O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        inflight::note_handle(fd, survival::FdKind::File, InodeTable::kRootId);
        fs.own_handle_fd(fd, InodeTable::kRootId, false);
    });
    auto pristine2 = make(area);
    worker_dies_after(area, *pristine2, Op::Open, 810, [&](Fs&) {
        const int fd = ::openat(root_fd(), "f", O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        inflight::note_handle(fd, survival::FdKind::File, InodeTable::kRootId);
    });
    // The clone workers shared our fd table: find the two fds by what the area says.
    const auto fds = area.fds();
    for (std::size_t i = 0; i < fds.size(); ++i)
        if (survival::FdSlot::kind_of(fds[i].word.load()) == survival::FdKind::File)
            first = static_cast<int>(i);
    ASSERT_GE(first, 0);
    for (const auto& slot : area.inflight())
        if (slot.unique.load() == 810) not_owned = slot.handle_fd - 1;
    ASSERT_GE(not_owned, 0);
    auto next = next_worker(area);
    {
        FakeReq resent{session(), 800 | kResent};
        const inflight::Scope scope(*next, reinterpret_cast<fuse_req_t>(&resent), Op::Open);
    }
    EXPECT_EQ(::fcntl(first, F_GETFD), -1);  // closed
    EXPECT_EQ(fds[static_cast<std::size_t>(first)].word.load(), 0U);
    {
        FakeReq resent{session(), 810 | kResent};
        const inflight::Scope scope(*next, reinterpret_cast<fuse_req_t>(&resent), Op::Open);
    }
    EXPECT_GE(::fcntl(not_owned, F_GETFD), 0);  // not ours to close
    ::close(not_owned);
    EXPECT_EQ(area.stats().handles_unanswered.load(), 1U);
}

TEST_F(InflightTest, RecordsOutliveACrashLoopThenAreFreed) {
    auto area = Area::create(256);
    auto pristine = make(area);
    worker_dies_after(area, *pristine, Op::Mkdir, 700,
                      [&](Fs&) { EXPECT_EQ(inflight::run([&] { return mkdir_x(root_fd()); }, EEXIST), 0); });
    // The kernel resends 700 to the next worker; a record survives a crash loop of them.
    for (int i = 0; i < 16; ++i) (void)next_worker(area);
    std::size_t kept = 0;
    for (const auto& s : area.inflight()) kept += s.unique.load() != 0 ? 1U : 0U;
    EXPECT_EQ(kept, 1U);
    (void)next_worker(area);  // then it is garbage: answered by a worker that died before freeing it
    std::size_t used = 0;
    for (const auto& s : area.inflight()) used += s.unique.load() != 0 ? 1U : 0U;
    EXPECT_EQ(used, 0U);
}

}  // namespace
}  // namespace splicefs::fs
