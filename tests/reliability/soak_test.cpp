// Concurrency soak: forked workers do mixed reads, writes, appends, renames, creates,
// truncates, listings and unlinks in overlapping directories for a bounded time. Each worker
// owns its files and keeps their expected content; all append fixed-size records to one
// shared log; names shared on purpose ("shared_*") may race (ENOENT/EEXIST expected there
// only). Afterwards every file matches its record, the log holds every record exactly once,
// the daemon's peak RSS is bounded and its fd count returns to the baseline. Meanwhile one
// more thread changes a directory of the backing tree directly (the backing watch pushes
// those changes into the kernel while the workers run) and reads it through the mount; once
// it stops, the mount shows exactly the backing state.
//   SPLICEFS_SOAK_SECONDS (default 20), SPLICEFS_SOAK_WORKERS (default 6),
//   SPLICEFS_SOAK_ARGS (extra daemon options, space-separated, e.g. "--no-splice").
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "rel_util.hpp"

namespace splicefs::reltest {
namespace {

constexpr int kDirs = 4;
constexpr std::size_t kRecord = 64;  // one O_APPEND write(2) per record
constexpr long kMaxRssKb = 256 * 1024;

long env_long(const char* name, long fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 10) : fallback;
}

std::vector<std::string> env_args(const char* name) {
    std::vector<std::string> out;
    const char* v = std::getenv(name);
    if (v == nullptr) return out;
    std::istringstream s(v);
    for (std::string w; s >> w;) out.push_back(w);
    return out;
}

std::string record(int worker, std::uint64_t seq) {
    char buf[kRecord + 1];
    std::snprintf(
        buf, sizeof buf, "w%02d s%012" PRIu64 " %016" PRIx64, worker, seq,
        fnv1a(reinterpret_cast<const unsigned char*>(&seq), sizeof seq) ^ static_cast<unsigned>(worker));
    std::string r(buf);
    r.resize(kRecord - 1, '.');
    r += '\n';
    return r;
}

struct OwnFile {
    std::string rel;  // "dN/wW_K"
    Bytes data;
};

// One worker process: returns through a result file, never throws to the caller.
class Worker {
public:
    Worker(int id, fs::path mnt, fs::path result)
        : id_(id),
          mnt_(std::move(mnt)),
          result_(std::move(result)),
          rng_(static_cast<std::uint64_t>(id) * 7919 + 17) {}

    int run(std::chrono::seconds duration) {
        const auto deadline = std::chrono::steady_clock::now() + duration;
        while (std::chrono::steady_clock::now() < deadline) step();
        for (const auto& f : files_) verify(f, "final");
        write_result();
        return 0;
    }

private:
    void fail(const std::string& what, int err) {
        ++errors_;
        if (messages_.size() < 20)
            messages_.push_back(what + ": " + (err != 0 ? std::strerror(err) : "mismatch"));
    }
    fs::path p(const std::string& rel) const { return mnt_ / rel; }
    std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
    std::string random_dir() { return "d" + std::to_string(pick(kDirs)); }
    std::string new_name() {
        return random_dir() + "/w" + std::to_string(id_) + "_" + std::to_string(next_++);
    }

    void step() {
        ++ops_;
        const std::size_t r = pick(100);
        if (files_.empty() || (r < 12 && files_.size() < 24)) return create();
        OwnFile& f = files_[pick(files_.size())];
        if (r < 30) return overwrite(f);
        if (r < 48) return verify(f, "read");
        if (r < 58) return append();
        if (r < 64) return rename_own(f);
        if (r < 70) return unlink_own(f);
        if (r < 75) return truncate_own(f);
        if (r < 82) return list_dir();
        if (r < 88) return stat_own(f);
        return shared_churn();
    }

    void create() {
        OwnFile f{new_name(), test::random_bytes(rng_(), pick(128 * 1024))};
        const test::Fd fd = test::open_fd(p(f.rel), O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (!fd.valid()) return fail("create " + f.rel, errno);
        try {
            test::pwrite_all(fd.get(), f.data, 0);
        } catch (const std::system_error& e) {
            return fail("write " + f.rel, e.code().value());
        }
        files_.push_back(std::move(f));
    }

    void overwrite(OwnFile& f) {
        const std::size_t off = pick(f.data.size() + 1);
        const Bytes chunk = test::random_bytes(rng_(), 1 + pick(64 * 1024));
        const test::Fd fd = test::open_fd(p(f.rel), O_WRONLY);
        if (!fd.valid()) return fail("open for write " + f.rel, errno);
        try {
            test::pwrite_all(fd.get(), chunk, static_cast<off_t>(off));
        } catch (const std::system_error& e) {
            return fail("pwrite " + f.rel, e.code().value());
        }
        if (f.data.size() < off + chunk.size()) f.data.resize(off + chunk.size());
        std::copy(chunk.begin(), chunk.end(), f.data.begin() + static_cast<std::ptrdiff_t>(off));
    }

    void verify(const OwnFile& f, const char* what) {
        try {
            const Bytes got = test::read_file(p(f.rel));
            if (got != f.data) {
                fail(std::string(what) + " " + f.rel + " size " + std::to_string(got.size()) + " want " +
                         std::to_string(f.data.size()) + " first diff " +
                         std::to_string(test::first_difference(got, f.data)),
                     0);
            }
        } catch (const std::system_error& e) {
            fail(std::string(what) + " " + f.rel, e.code().value());
        }
    }

    void append() {
        const std::string rec = record(id_, seq_);
        const test::Fd fd = test::open_fd(mnt_ / "shared.log", O_WRONLY | O_APPEND);
        if (!fd.valid()) return fail("open shared.log", errno);
        const ssize_t w = write(fd.get(), rec.data(), rec.size());
        if (w != static_cast<ssize_t>(rec.size())) return fail("append", w < 0 ? errno : 0);
        ++seq_;
    }

    void rename_own(OwnFile& f) {
        const std::string to = new_name();
        if (rename(p(f.rel).c_str(), p(to).c_str()) != 0) return fail("rename " + f.rel + " " + to, errno);
        f.rel = to;
    }

    void unlink_own(OwnFile& f) {
        if (unlink(p(f.rel).c_str()) != 0) return fail("unlink " + f.rel, errno);
        const std::string rel = f.rel;
        std::erase_if(files_, [&](const OwnFile& o) { return o.rel == rel; });
    }

    void truncate_own(OwnFile& f) {
        const std::size_t n = pick(f.data.size() + 8192);
        if (truncate(p(f.rel).c_str(), static_cast<off_t>(n)) != 0) return fail("truncate " + f.rel, errno);
        f.data.resize(n, 0);
    }

    void stat_own(const OwnFile& f) {
        struct stat st {};
        if (stat(p(f.rel).c_str(), &st) != 0) return fail("stat " + f.rel, errno);
        if (static_cast<std::size_t>(st.st_size) != f.data.size())
            fail("stat size " + f.rel + " " + std::to_string(st.st_size) + " want " +
                     std::to_string(f.data.size()),
                 0);
    }

    // Own files in a directory must be listed; no own name may be listed that we do not have.
    void list_dir() {
        const std::string dir = random_dir();
        std::map<std::string, ino_t> names;
        try {
            names = test::list_dir(p(dir));
        } catch (const std::exception& e) {
            return fail("readdir " + dir + " " + e.what(), 0);
        }
        const std::string mine = "w" + std::to_string(id_) + "_";
        std::set<std::string> expected;
        for (const auto& f : files_) {
            if (f.rel.rfind(dir + "/", 0) == 0) expected.insert(f.rel.substr(dir.size() + 1));
        }
        for (const auto& e : expected) {
            if (names.count(e) == 0) fail("readdir " + dir + " misses " + e, 0);
        }
        for (const auto& [name, ino] : names) {
            if (name.rfind(mine, 0) == 0 && expected.count(name) == 0)
                fail("readdir " + dir + " ghost " + name, 0);
        }
    }

    // Names every worker uses: races give ENOENT / EEXIST, which are expected here (only here).
    void shared_churn() {
        const std::string name = random_dir() + "/shared_" + std::to_string(pick(4));
        const std::string other = random_dir() + "/shared_" + std::to_string(pick(4));
        const auto tolerate = [&](const char* what, int err) {
            if (err != ENOENT && err != EEXIST) fail(std::string(what) + " " + name, err);
        };
        switch (pick(4)) {
            case 0: {
                const test::Fd fd = test::open_fd(p(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (!fd.valid()) return tolerate("create", errno);
                const Bytes b = test::random_bytes(rng_(), 4096);
                if (pwrite(fd.get(), b.data(), b.size(), 0) < 0) tolerate("write", errno);
                return;
            }
            case 1:
                if (unlink(p(name).c_str()) != 0) tolerate("unlink", errno);
                return;
            case 2:
                if (rename(p(name).c_str(), p(other).c_str()) != 0) tolerate("rename", errno);
                return;
            default:
                try {
                    (void)test::read_file(p(name));
                } catch (const std::system_error& e) {
                    tolerate("read", e.code().value());
                }
        }
    }

    void write_result() {
        std::ofstream out(result_);
        out << "ops " << ops_ << "\nerrors " << errors_ << "\nrecords " << seq_ << "\n";
        for (const auto& m : messages_) out << "msg " << m << "\n";
        for (const auto& f : files_)
            out << "file " << f.rel << " " << f.data.size() << " " << fnv1a(f.data) << "\n";
    }

    int id_;
    fs::path mnt_, result_;
    std::mt19937_64 rng_;
    std::vector<OwnFile> files_;
    std::uint64_t next_ = 0, seq_ = 0, ops_ = 0, errors_ = 0;
    std::vector<std::string> messages_;
};

// Changes backing/outside directly and reads it through the mount until `stop`; counts
// errors other than the ones a race with its own changes explains.
class OutsideChanger {
public:
    OutsideChanger(fs::path backing, fs::path mnt) : b_(std::move(backing)), m_(std::move(mnt)) {
        fs::create_directory(b_);
    }
    void run(const std::atomic<bool>& stop) {
        for (std::uint64_t i = 0; !stop.load(); ++i) {
            const std::string name = "o" + std::to_string(i % 8);
            const fs::path p = b_ / name;
            std::error_code ec;
            switch (i % 6) {
                case 0:
                    test::write_file(p, "version " + std::to_string(i));
                    break;
                case 1:
                    fs::rename(p, b_ / ("r" + name), ec);
                    break;
                case 2:
                    (void)::chmod(p.c_str(), 0600 | (i & 044));
                    break;
                case 3: {
                    const int fd = ::open(p.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
                    if (fd >= 0) {
                        (void)!::write(fd, "+", 1);
                        ::close(fd);
                    }
                    break;
                }
                case 4:
                    fs::remove(b_ / ("r" + name), ec);
                    break;
                default:
                    if (::mkdir((b_ / ("sub" + name)).c_str(), 0755) != 0)
                        (void)::rmdir((b_ / ("sub" + name)).c_str());
            }
            look(m_ / name);
            if (i % 16 == 0) {
                DIR* d = ::opendir(m_.c_str());
                if (d == nullptr) note("opendir", errno);
                while (d != nullptr && ::readdir(d) != nullptr) {
                }
                if (d != nullptr) ::closedir(d);
            }
            ++ops_;
            // Paced: enough outside changes to keep the watch busy beside the workers, not so
            // many that they crowd the workers' requests out.
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
    }
    void look(const fs::path& p) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) return note("lstat", errno);
        if (!S_ISREG(st.st_mode)) return;
        const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return note("open", errno);
        char buf[64];
        if (::read(fd, buf, sizeof buf) < 0) note("read", errno);
        ::close(fd);
    }
    // ENOENT: renamed or removed meanwhile; EACCES never (root); anything else is a fault.
    void note(const char* what, int err) {
        if (err == ENOENT) return;
        ++errors_;
        if (messages_.size() < 5) messages_.push_back(std::string(what) + ": " + std::strerror(err));
    }
    std::uint64_t ops_ = 0;
    std::uint64_t errors_ = 0;
    std::vector<std::string> messages_;

private:
    fs::path b_, m_;
};

struct Result {
    std::uint64_t ops = 0, errors = 0, records = 0;
    std::vector<std::string> messages;
    std::map<std::string, std::pair<std::size_t, std::uint64_t>> files;  // rel -> size, hash
};

Result read_result(const fs::path& p) {
    Result r;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) {
        std::istringstream s(line);
        std::string key;
        s >> key;
        if (key == "ops") s >> r.ops;
        if (key == "errors") s >> r.errors;
        if (key == "records") s >> r.records;
        if (key == "msg") r.messages.push_back(line.substr(4));
        if (key == "file") {
            std::string rel;
            std::size_t size = 0;
            std::uint64_t hash = 0;
            s >> rel >> size >> hash;
            r.files[rel] = {size, hash};
        }
    }
    return r;
}

TEST(Soak, MixedConcurrentWorkloadKeepsDataAndResources) {
    const long seconds = env_long("SPLICEFS_SOAK_SECONDS", 20);
    const int workers = static_cast<int>(env_long("SPLICEFS_SOAK_WORKERS", 6));
    Dirs dirs;
    Daemon d(dirs.backing, dirs.mnt, dirs.root.path(), env_args("SPLICEFS_SOAK_ARGS"));
    for (int i = 0; i < kDirs; ++i) ASSERT_EQ(mkdir((dirs.mnt / ("d" + std::to_string(i))).c_str(), 0755), 0);
    test::write_file(dirs.mnt / "shared.log", "");
    const int baseline = fd_count(d.pid(), dirs.backing);
    const int baseline_all = fd_count(d.pid());
    const std::string baseline_fds = fd_targets(d.pid());

    std::vector<pid_t> pids;
    for (int w = 0; w < workers; ++w) {
        const fs::path result = dirs.root.path() / ("result" + std::to_string(w));
        const fs::path mnt = dirs.mnt;
        const pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            int rc = 1;
            try {
                rc = Worker(w, mnt, result).run(std::chrono::seconds(seconds));
            } catch (...) {
                rc = 2;
            }
            _exit(rc);
        }
        pids.push_back(pid);
    }
    // Started once the workers are forked: a fork while another thread holds an allocator
    // lock leaves the child deadlocked (seen with ASan's allocator).
    OutsideChanger outside(dirs.backing / "outside", dirs.mnt / "outside");
    std::atomic<bool> stop_outside{false};
    std::thread outside_thread([&] { outside.run(stop_outside); });
    struct Joiner {
        std::atomic<bool>& stop;
        std::thread& t;
        ~Joiner() {
            stop.store(true);
            if (t.joinable()) t.join();
        }
    } outside_joiner{stop_outside, outside_thread};

    int peak_fds = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds + 120);
    std::size_t done = 0;
    std::vector<int> codes(pids.size(), -1);
    while (done < pids.size()) {
        peak_fds = std::max(peak_fds, fd_count(d.pid(), dirs.backing));
        for (std::size_t i = 0; i < pids.size(); ++i) {
            int status = 0;
            if (codes[i] == -1 && waitpid(pids[i], &status, WNOHANG) == pids[i]) {
                codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                ++done;
            }
        }
        if (std::chrono::steady_clock::now() > deadline) {
            for (std::size_t i = 0; i < pids.size(); ++i) {
                if (codes[i] == -1) {
                    kill(pids[i], SIGKILL);
                    waitpid(pids[i], nullptr, 0);
                    codes[i] = 999;
                    ++done;
                }
            }
            ADD_FAILURE() << "workers hung (killed)";
        }
        std::this_thread::sleep_for(50ms);
    }
    stop_outside.store(true);
    outside_thread.join();
    ASSERT_TRUE(d.alive()) << d.log();
    EXPECT_EQ(outside.errors_, 0u) << [&] {
        std::string s;
        for (const auto& m : outside.messages_) s += "  " + m + "\n";
        return s;
    }();
    // The mount converges on what the backing tree holds now (pushed by the watch, or at the
    // latest after the 1 s timeouts without it).
    const auto converged = [&] {
        if (test::list_dir(dirs.mnt / "outside") != test::list_dir(dirs.backing / "outside")) return false;
        for (const auto& [name, ino] : test::list_dir(dirs.backing / "outside")) {
            const fs::path bp = dirs.backing / "outside" / name;
            if (!fs::is_regular_file(bp)) continue;
            if (test::read_file(dirs.mnt / "outside" / name) != test::read_file(bp)) return false;
            if (test::lstat_of(dirs.mnt / "outside" / name).st_mode != test::lstat_of(bp).st_mode)
                return false;
        }
        return true;
    };
    const auto converge_until = std::chrono::steady_clock::now() + 15s;
    while (!converged() && std::chrono::steady_clock::now() < converge_until)
        std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(converged()) << "the mount still differs from the backing tree's outside/";

    std::uint64_t ops = 0, records_total = 0;
    std::map<std::string, std::pair<std::size_t, std::uint64_t>> expected;
    std::vector<std::uint64_t> records(static_cast<std::size_t>(workers));
    for (int w = 0; w < workers; ++w) {
        EXPECT_EQ(codes[static_cast<std::size_t>(w)], 0) << "worker " << w;
        const Result r = read_result(dirs.root.path() / ("result" + std::to_string(w)));
        ops += r.ops;
        records[static_cast<std::size_t>(w)] = r.records;
        records_total += r.records;
        EXPECT_EQ(r.errors, 0u) << "worker " << w << ":\n"
                                << [&] {
                                       std::string s;
                                       for (const auto& m : r.messages) s += "  " + m + "\n";
                                       return s;
                                   }();
        expected.insert(r.files.begin(), r.files.end());
    }

    // Every file matches the writers' records, in the backing dir and through the mount;
    // nothing else is there but shared_* names.
    std::size_t checked = 0;
    for (const auto& [rel, want] : expected) {
        const Bytes on_disk = test::read_file(dirs.backing / rel);
        EXPECT_EQ(on_disk.size(), want.first) << rel;
        EXPECT_EQ(fnv1a(on_disk), want.second) << rel;
        EXPECT_EQ(fnv1a(test::read_file(dirs.mnt / rel)), want.second) << rel;
        ++checked;
    }
    for (int i = 0; i < kDirs; ++i) {
        const std::string dir = "d" + std::to_string(i);
        for (const auto& [name, ino] : test::list_dir(dirs.backing / dir)) {
            if (name.rfind("shared_", 0) == 0) continue;
            EXPECT_EQ(expected.count(dir + "/" + name), 1u) << "unexpected file " << dir << "/" << name;
        }
    }
    // The append log: whole records, each exactly once, each worker's in its own order.
    const Bytes log = test::read_file(dirs.backing / "shared.log");
    EXPECT_EQ(log.size() % kRecord, 0u);
    EXPECT_EQ(log.size() / kRecord, records_total);
    std::vector<std::uint64_t> next(static_cast<std::size_t>(workers), 0);
    std::size_t bad_records = 0;
    for (std::size_t off = 0; off + kRecord <= log.size(); off += kRecord) {
        const std::string rec(log.begin() + static_cast<std::ptrdiff_t>(off),
                              log.begin() + static_cast<std::ptrdiff_t>(off + kRecord));
        int w = -1;
        unsigned long long seq = 0;
        if (std::sscanf(rec.c_str(), "w%2d s%12llu", &w, &seq) != 2 || w < 0 || w >= workers ||
            rec != record(w, seq) || seq != next[static_cast<std::size_t>(w)]) {
            ++bad_records;
            continue;
        }
        ++next[static_cast<std::size_t>(w)];
    }
    EXPECT_EQ(bad_records, 0u);
    for (int w = 0; w < workers; ++w)
        EXPECT_EQ(next[static_cast<std::size_t>(w)], records[static_cast<std::size_t>(w)]) << "worker " << w;

    // Resources: peak RSS bounded; fds back to the baseline once the kernel forgets.
    const long hwm = status_kb(d.pid(), "VmHWM");
    EXPECT_GT(hwm, 0);
    EXPECT_LT(hwm, kMaxRssKb) << "daemon peak RSS";
    const int after = wait_fds_at_most(d.pid(), baseline, 60s, dirs.backing);
    const int after_all = fd_count(d.pid());
    EXPECT_LE(after, baseline) << "fd leak: baseline " << baseline << ", now " << after << "\nbaseline:\n"
                               << baseline_fds << "now:\n"
                               << fd_targets(d.pid()) << stats_json(dirs.mnt);

    std::printf("[soak] %ld s, %d workers, %" PRIu64 " ops, %zu files verified, %" PRIu64
                " appended records, %" PRIu64
                " outside changes; daemon VmHWM %ld KiB; backing fds: baseline %d "
                "peak %d after %d; all fds: baseline %d after %d\n",
                seconds, workers, ops, checked, records_total, outside.ops_, hwm, baseline, peak_fds, after,
                baseline_all, after_all);
    RecordProperty("ops", std::to_string(ops));
    RecordProperty("vmhwm_kb", std::to_string(hwm));
    RecordProperty("peak_fds", std::to_string(peak_fds));
    const auto status = d.unmount();
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << d.log();
}

}  // namespace
}  // namespace splicefs::reltest
