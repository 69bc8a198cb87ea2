#include "workloads.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace splicefs::failover {
namespace {

using Bytes = std::vector<unsigned char>;

std::string errname(int e) {
    return std::generic_category().message(e);
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

Bytes random_bytes(std::mt19937_64& rng, std::size_t n) {
    Bytes out(n);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t v = rng();
        std::memcpy(out.data() + i, &v, 8);
    }
    std::uint64_t v = rng();
    for (; i < n; ++i, v >>= 8) out[i] = static_cast<unsigned char>(v & 0xff);
    return out;
}

std::uint64_t fnv1a(const Bytes& b) {
    std::uint64_t h = 1469598103934665603ULL;
    for (const unsigned char c : b) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

// Whole-buffer pwrite/pread; false (errno set) on an error, pread short only at EOF.
bool pwrite_all(int fd, const unsigned char* p, std::size_t n, off_t off) {
    std::size_t done = 0;
    while (done < n) {
        const ssize_t w = pwrite(fd, p + done, n - done, off + static_cast<off_t>(done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        done += static_cast<std::size_t>(w);
    }
    return true;
}

bool pread_all(int fd, Bytes& out, std::size_t n, off_t off) {
    out.resize(n);
    std::size_t done = 0;
    while (done < n) {
        const ssize_t r = pread(fd, out.data() + done, n - done, off + static_cast<off_t>(done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return false;
        if (r == 0) break;
        done += static_cast<std::size_t>(r);
    }
    out.resize(done);
    return true;
}

bool read_file(const fs::path& p, Bytes& out) {
    const int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st {};
    const bool ok = fstat(fd, &st) == 0 && pread_all(fd, out, static_cast<std::size_t>(st.st_size), 0);
    const int e = errno;
    close(fd);
    errno = e;
    return ok;
}

std::string tail_lines(const std::string& text, std::size_t n) {
    std::size_t pos = text.size();
    for (std::size_t i = 0; i < n && pos > 0; ++i) {
        pos = text.rfind('\n', pos - 1);
        if (pos == std::string::npos) return text;
    }
    return text.substr(pos + 1);
}

// A file of the source tree: the content is a function of (seed, size).
void make_file(const fs::path& p, std::mt19937_64& rng, std::size_t size, mode_t mode) {
    const Bytes data = random_bytes(rng, size);
    const int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !pwrite_all(fd, data.data(), data.size(), 0))
        throw std::runtime_error("cannot write " + p.string());
    close(fd);
    chmod(p.c_str(), mode);
}

struct SourceTree {
    fs::path root;
    SourceTree() {
        char templ[] = "/tmp/splicefs-failover-src.XXXXXX";
        if (mkdtemp(templ) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
        root = fs::path(templ) / "src";
        fs::create_directory(root);
        std::mt19937_64 rng(424242);
        const mode_t modes[] = {0644, 0600, 0755, 0444, 0640};
        int n = 0;
        for (int d = 0; d < 5; ++d) {
            const fs::path dir = root / ("dir" + std::to_string(d));
            fs::create_directory(dir);
            for (int s = 0; s < 4; ++s) {
                const fs::path sub = dir / ("sub" + std::to_string(s));
                fs::create_directory(sub);
                for (int i = 0; i < 10; ++i, ++n) {
                    // Mostly small files, some up to 1 MiB: about 12 MiB in 200 files.
                    const std::size_t size = n % 10 == 0  ? (rng() % (1u << 20))
                                             : n % 3 == 0 ? (rng() % (128u << 10))
                                                          : (rng() % 6000);
                    make_file(sub / ("file" + std::to_string(i) + ".dat"), rng, size, modes[n % 5]);
                }
                fs::create_symlink("file0.dat", sub / "link-to-file0");
                fs::create_symlink("../sub0/file1.dat", sub / "link-up");
                fs::create_hard_link(sub / "file2.dat", sub / "hard-file2");
            }
            fs::create_directory(dir / "empty");
            mkfifo((dir / "fifo").c_str(), 0640);
        }
        fs::create_symlink("dangling-target", root / "dangling");
        // Fixed mtimes with nanoseconds, deepest first (setting a child's touches its dir).
        std::vector<fs::path> all;
        for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it)
            all.push_back(it->path());
        std::sort(all.begin(), all.end(), std::greater<>());
        all.push_back(root);
        long k = 0;
        for (const auto& p : all) {
            const timespec ts[2] = {{1700000000 + k, 123456789}, {1600000000 + k * 7, 987654321 - k}};
            utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW);
            ++k;
        }
    }
    ~SourceTree() {
        std::error_code ec;
        fs::remove_all(root.parent_path(), ec);
    }
};

// Set once: SIGUSR1 interrupts a blocked flock (no SA_RESTART) so a hung waiter can be joined.
void install_wakeup_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_handler = [](int) {};
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        sigaction(SIGUSR1, &sa, nullptr);
    });
}

}  // namespace

// --- fio ----------------------------------------------------------------------------------

void fio_round(const fs::path& mnt, const fs::path& backing, const fs::path& scratch, int round,
               Findings& f) {
    const std::string name = "fio" + std::to_string(round);
    const fs::path dir = mnt / name;
    std::error_code ec;
    if (!fs::create_directory(dir, ec) || ec) {
        f.error("mkdir " + dir.string() + ": " + ec.message());
        return;
    }
    struct Job {
        const char* name;
        const char* rw;
        const char* bs;
    };
    const Job jobs[] = {{"seq", "write", "--bs=1m"}, {"rand", "randwrite", "--bsrange=4k-256k"}};
    for (const auto& j : jobs) {
        const RunResult r = run({"fio", std::string("--name=") + j.name, "--directory=" + dir.string(),
                                 std::string("--rw=") + j.rw, j.bs, "--size=24m", "--numjobs=2",
                                 "--ioengine=psync", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
                                 "--verify_state_save=0", "--group_reporting", "--output-format=terse"},
                                300s);
        if (r.exit_code != 0) {
            f.error("fio " + std::string(j.name) + " round " + std::to_string(round) + ": exit " +
                    std::to_string(r.exit_code) + "\n" + tail_lines(r.output, 15));
            continue;
        }
        f.check();
    }
    // What fio wrote and verified through the mount is what the backing files hold.
    const RunResult again =
        run({"fio", "--name=seq", "--directory=" + (backing / name).string(), "--rw=write", "--bs=1m",
             "--size=24m", "--numjobs=2", "--ioengine=psync", "--verify=crc32c", "--verify_only=1",
             "--verify_fatal=1", "--verify_state_save=0", "--output-format=terse"},
            300s);
    if (again.exit_code != 0) {
        f.error("fio backing-side verify, round " + std::to_string(round) + ": exit " +
                std::to_string(again.exit_code) + "\n" + tail_lines(again.output, 15));
    } else {
        f.check();
    }
    fs::remove_all(dir, ec);
    if (ec) f.error("rm -r " + dir.string() + ": " + ec.message());
    (void)scratch;
}

// --- cp -a / tar --------------------------------------------------------------------------

const fs::path& source_tree() {
    static const SourceTree tree;
    return tree.root;
}

long compare_trees(const fs::path& want, const fs::path& got, bool exact_mtime, Findings& f) {
    long checked = 0;
    std::set<std::string> names;
    std::error_code ec;
    auto describe = [&](const fs::path& p, std::string& out) -> bool {
        struct stat st {};
        if (lstat(p.c_str(), &st) != 0) return false;
        std::ostringstream d;
        d << std::oct << st.st_mode << std::dec << " size=" << st.st_size << " mtime=" << st.st_mtim.tv_sec;
        if (exact_mtime) d << "." << st.st_mtim.tv_nsec;
        if (!S_ISDIR(st.st_mode)) d << " nlink=" << st.st_nlink;
        if (S_ISLNK(st.st_mode)) {
            std::error_code lec;
            d << " -> " << fs::read_symlink(p, lec).string();
        } else if (S_ISREG(st.st_mode)) {
            Bytes data;
            if (!read_file(p, data)) {
                d << " read error: " << errname(errno);
            } else {
                d << " data=" << std::hex << fnv1a(data) << std::dec << " read=" << data.size();
            }
        }
        out = d.str();
        return true;
    };
    for (auto it = fs::recursive_directory_iterator(want, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const auto rel = it->path().lexically_relative(want);
        names.insert(rel.string());
        std::string a, b;
        describe(it->path(), a);
        if (!describe(got / rel, b)) {
            f.error("missing in " + got.string() + ": " + rel.string() + " (" + errname(errno) + ")");
            continue;
        }
        if (a != b) {
            f.error(got.string() + ": " + rel.string() + " is [" + b + "], want [" + a + "]");
            continue;
        }
        ++checked;
    }
    for (auto it = fs::recursive_directory_iterator(got, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        const auto rel = it->path().lexically_relative(got).string();
        if (names.count(rel) == 0) f.error("unexpected entry in " + got.string() + ": " + rel);
    }
    if (ec) f.error("walking " + got.string() + ": " + ec.message());
    f.checks(checked);
    return checked;
}

void tree_round(const fs::path& mnt, const fs::path& backing, const fs::path& scratch, int round,
                Findings& f) {
    const std::string name = "copy" + std::to_string(round);
    const fs::path& src = source_tree();
    const RunResult cp = run({"cp", "-a", src.string(), (mnt / name).string()}, 300s);
    if (cp.exit_code != 0 || !cp.output.empty()) {
        f.error("cp -a round " + std::to_string(round) + ": exit " + std::to_string(cp.exit_code) + "\n" +
                tail_lines(cp.output, 10));
    }
    compare_trees(src, backing / name, true, f);
    const fs::path out = scratch / ("out" + std::to_string(round));
    fs::create_directories(out);
    const RunResult tar =
        run({"bash", "-o", "pipefail", "-c", "tar -C \"$1\" -cf - \"$2\" | tar -C \"$3\" -xpf -", "tar",
             mnt.string(), name, out.string()},
            300s);
    if (tar.exit_code != 0 || !tar.output.empty()) {
        f.error("tar round " + std::to_string(round) + ": exit " + std::to_string(tar.exit_code) + "\n" +
                tail_lines(tar.output, 10));
    }
    compare_trees(src, out / name, false, f);
    std::error_code ec;
    fs::remove_all(out, ec);
    fs::remove_all(mnt / name, ec);
    if (ec) f.error("rm -r " + (mnt / name).string() + ": " + ec.message());
}

// --- holders ------------------------------------------------------------------------------

Holders::Holders(const fs::path& mnt, Findings& f, std::uint64_t seed) : mnt_(mnt), f_(f), rng_(seed) {
    install_wakeup_handler();
    auto must = [&](bool ok, const std::string& what) {
        if (!ok) throw std::system_error(errno, std::generic_category(), what);
    };
    held_ = open((mnt_ / "held.bin").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    must(held_ >= 0, "open held.bin");
    held_model_ = random_bytes(rng_, 4u << 20);
    must(pwrite_all(held_, held_model_.data(), held_model_.size(), 0), "write held.bin");
    unlinked_ = open((mnt_ / "unlinked.bin").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    must(unlinked_ >= 0, "open unlinked.bin");
    unlinked_model_ = random_bytes(rng_, 1u << 20);
    must(pwrite_all(unlinked_, unlinked_model_.data(), unlinked_model_.size(), 0), "write unlinked.bin");
    must(unlink((mnt_ / "unlinked.bin").c_str()) == 0, "unlink unlinked.bin");
    lock_ = open((mnt_ / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    must(lock_ >= 0 && flock(lock_, LOCK_EX) == 0, "flock lock");
    appender_ =
        open((mnt_ / "append.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    must(appender_ >= 0, "open append.log");
    must(mkdir((mnt_ / "dir").c_str(), 0755) == 0, "mkdir dir");
    // Long names: one pass over the directory takes several READDIR requests.
    for (int i = 0; i < 300; ++i) {
        const std::string n =
            "entry-" + std::to_string(i) + "-" + std::string(90, static_cast<char>('a' + i % 26));
        const int fd = open((mnt_ / "dir" / n).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        must(fd >= 0, "create dir entry");
        close(fd);
        dir_names_.push_back(n);
    }
    std::sort(dir_names_.begin(), dir_names_.end());
    dir_ = opendir((mnt_ / "dir").c_str());
    must(dir_ != nullptr, "opendir dir");
    waiter_fd_ = open((mnt_ / "lock").c_str(), O_RDWR | O_CLOEXEC);
    must(waiter_fd_ >= 0, "open lock (waiter)");
    waiter_ = std::thread([this] {
        // Blocks in the daemon for the whole phase: the request is resent to every new worker.
        if (flock(waiter_fd_, LOCK_EX) != 0) {
            f_.error("blocked flock returned: " + errname(errno));
            return;
        }
        waiter_at_ns_ = now_ns();
        waiter_got_ = true;
    });
}

Holders::~Holders() {
    if (waiter_.joinable()) {
        if (!waiter_got_) pthread_kill(waiter_.native_handle(), SIGUSR1);
        waiter_.join();
    }
    for (const int fd : {held_, unlinked_, lock_, appender_, waiter_fd_}) {
        if (fd >= 0) close(fd);
    }
    if (dir_ != nullptr) closedir(static_cast<DIR*>(dir_));
}

void Holders::data_check(int fd, Bytes& model, const char* what) {
    std::uniform_int_distribution<std::size_t> len_d(1, 128u << 10);
    const std::size_t len = len_d(rng_);
    const std::size_t off = std::uniform_int_distribution<std::size_t>(0, model.size() - len)(rng_);
    const Bytes data = random_bytes(rng_, len);
    if (!pwrite_all(fd, data.data(), len, static_cast<off_t>(off))) {
        f_.error(std::string(what) + ": pwrite: " + errname(errno));
        return;
    }
    std::copy(data.begin(), data.end(), model.begin() + static_cast<std::ptrdiff_t>(off));
    Bytes got;
    const std::size_t off2 = std::uniform_int_distribution<std::size_t>(0, model.size() - len)(rng_);
    for (const std::size_t o : {off, off2}) {
        if (!pread_all(fd, got, len, static_cast<off_t>(o))) {
            f_.error(std::string(what) + ": pread: " + errname(errno));
            return;
        }
        if (!std::equal(got.begin(), got.end(), model.begin() + static_cast<std::ptrdiff_t>(o),
                        model.begin() + static_cast<std::ptrdiff_t>(o + len)) ||
            got.size() != len) {
            f_.error(std::string(what) + ": bytes at " + std::to_string(o) + "+" + std::to_string(len) +
                     " differ from what was written");
            return;
        }
    }
    f_.check();
}

void Holders::churn() {
    const std::string i = std::to_string(iteration_);
    auto p = [&](const std::string& n) { return (mnt_ / (n + i)).string(); };
    auto fail = [&](const std::string& what) {
        f_.error("churn #" + i + ": " + what + ": " + errname(errno));
    };
    auto wrong = [&](const std::string& what) { f_.error("churn #" + i + ": " + what); };
    const int fd = open(p("c").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return fail("create O_EXCL");
    const bool wrote = write(fd, "abc", 3) == 3;
    close(fd);
    if (!wrote) return fail("write");
    if (rename(p("c").c_str(), p("r").c_str()) != 0) return fail("rename");
    if (link(p("r").c_str(), p("h").c_str()) != 0) return fail("link");
    struct stat st {};
    if (lstat(p("h").c_str(), &st) != 0) return fail("lstat after link");
    if (st.st_nlink != 2) return wrong("nlink " + std::to_string(st.st_nlink) + " after link, want 2");
    if (unlink(p("r").c_str()) != 0) return fail("unlink");
    if (lstat(p("h").c_str(), &st) != 0) return fail("lstat after unlink");
    if (st.st_nlink != 1) return wrong("nlink " + std::to_string(st.st_nlink) + " after unlink, want 1");
    if (symlink(("h" + i).c_str(), p("s").c_str()) != 0) return fail("symlink");
    std::error_code ec;
    if (fs::read_symlink(p("s"), ec).string() != "h" + i) return wrong("readlink: " + ec.message());
    if (mkdir(p("d").c_str(), 0750) != 0) return fail("mkdir");
    if (rmdir(p("d").c_str()) != 0) return fail("rmdir");
    if (mknod(p("p").c_str(), S_IFIFO | 0640, 0) != 0) return fail("mknod");
    if (unlink(p("p").c_str()) != 0) return fail("unlink fifo");
    if (chmod(p("h").c_str(), 0600) != 0) return fail("chmod");
    if (truncate(p("h").c_str(), 1) != 0) return fail("truncate");
    if (lstat(p("h").c_str(), &st) != 0) return fail("lstat after chmod+truncate");
    if ((st.st_mode & 07777) != 0600 || st.st_size != 1) return wrong("mode/size after chmod+truncate");
    if (renameat2(AT_FDCWD, p("h").c_str(), AT_FDCWD, p("n").c_str(), RENAME_NOREPLACE) != 0)
        return fail("rename NOREPLACE");
    if (unlink(p("n").c_str()) != 0 || unlink(p("s").c_str()) != 0) return fail("unlink");
    f_.check();
}

void Holders::append() {
    // One 64-byte record per round: a replayed append would show as a longer file.
    char rec[64];
    std::snprintf(rec, sizeof rec, "%-62ld\n", iteration_);
    if (write(appender_, rec, 64) != 64) {
        f_.error("append: " + errname(errno));
        return;
    }
    ++appends_;
    struct stat st {};
    if (fstat(appender_, &st) != 0) {
        f_.error("fstat append.log: " + errname(errno));
    } else if (st.st_size != 64 * appends_) {
        f_.error("append.log holds " + std::to_string(st.st_size) + " bytes after " +
                 std::to_string(appends_) + " appends of 64");
        appends_ = st.st_size / 64;  // one report per surprise, not one per later round
    } else {
        f_.check();
    }
}

void Holders::dir_step() {
    auto* d = static_cast<DIR*>(dir_);
    for (int k = 0; k < 5; ++k) {
        errno = 0;
        const dirent* e = readdir(d);
        if (e == nullptr) {
            if (errno != 0) {
                f_.error("readdir: " + errname(errno));
                return;
            }
            std::sort(dir_seen_.begin(), dir_seen_.end());
            if (dir_seen_ != dir_names_) {
                f_.error("a pass over dir/ through one handle saw " + std::to_string(dir_seen_.size()) +
                         " names, want the " + std::to_string(dir_names_.size()) + " it holds");
            } else {
                f_.check();
            }
            dir_seen_.clear();
            rewinddir(d);
            return;
        }
        const std::string n = e->d_name;
        if (n != "." && n != "..") dir_seen_.push_back(n);
    }
}

void Holders::round() {
    data_check(held_, held_model_, "file kept open");
    data_check(unlinked_, unlinked_model_, "unlinked file kept open");
    struct stat st {};
    if (fstat(unlinked_, &st) != 0 || st.st_nlink != 0) f_.error("unlinked file: fstat nlink != 0");
    const int other = open((mnt_ / "lock").c_str(), O_RDWR | O_CLOEXEC);
    if (other < 0) {
        f_.error("open lock: " + errname(errno));
    } else {
        if (flock(other, LOCK_EX | LOCK_NB) == 0) {
            f_.error("flock LOCK_NB succeeded while another open holds the lock");
        } else if (errno != EWOULDBLOCK) {
            f_.error("flock LOCK_NB: " + errname(errno) + ", want EWOULDBLOCK");
        } else {
            f_.check();
        }
        close(other);
    }
    if (waiter_got_) f_.error("the blocked flock waiter got the lock while it was held");
    churn();
    append();
    dir_step();
    ++iteration_;
}

void Holders::finish() {
    Bytes got;
    for (const auto& [fd, model, what] : {std::tuple{held_, &held_model_, "file kept open"},
                                          std::tuple{unlinked_, &unlinked_model_, "unlinked file"}}) {
        if (!pread_all(fd, got, model->size() + 1, 0) || got != *model) {
            f_.error(std::string(what) + ": whole content differs at the end");
        } else {
            f_.check();
        }
    }
    released_at_ns_ = now_ns();
    if (flock(lock_, LOCK_UN) != 0) f_.error("flock LOCK_UN: " + errname(errno));
    if (!wait_for([&] { return waiter_got_.load(); }, 20s)) {
        f_.error("the blocked flock waiter did not get the lock within 20 s of its release");
        pthread_kill(waiter_.native_handle(), SIGUSR1);
    } else if (waiter_at_ns_ < released_at_ns_) {
        f_.error("the blocked flock waiter got the lock before it was released");
    } else {
        f_.check();
    }
    waiter_.join();
    for (int* fd : {&held_, &unlinked_, &lock_, &appender_, &waiter_fd_}) {
        if (*fd >= 0 && close(*fd) != 0) f_.error("close: " + errname(errno));
        *fd = -1;
    }
    closedir(static_cast<DIR*>(dir_));
    dir_ = nullptr;
    struct stat st {};
    if (stat((mnt_ / "append.log").c_str(), &st) != 0 || st.st_size != 64 * appends_)
        f_.error("append.log: " + std::to_string(st.st_size) + " bytes at the end, want " +
                 std::to_string(64 * appends_));
    std::error_code ec;
    for (const char* n : {"held.bin", "lock", "append.log", "dir"}) {
        fs::remove_all(mnt_ / n, ec);
        if (ec) f_.error(std::string("rm -r ") + n + ": " + ec.message());
    }
}

// --- stream -------------------------------------------------------------------------------

void stream_round(const fs::path& mnt, int round, std::uint64_t seed, Findings& f) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(round));
    for (int k = 0; k < 4; ++k) {
        const fs::path p = mnt / ("stream-" + std::to_string(round) + "-" + std::to_string(k));
        const Bytes data = random_bytes(rng, (1u << 20) + static_cast<std::size_t>(k) * 4099);
        const int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            f.error("create " + p.string() + ": " + errname(errno));
            continue;
        }
        const bool ok = pwrite_all(fd, data.data(), data.size(), 0);
        const int e = errno;
        if (close(fd) != 0 || !ok) {
            f.error("write " + p.string() + ": " + errname(ok ? errno : e));
            continue;
        }
        Bytes got;
        if (!read_file(p, got)) {
            f.error("read " + p.string() + ": " + errname(errno));
        } else if (got != data) {
            f.error(p.string() + ": read back differs from what was written");
        } else {
            f.check();
        }
        if (unlink(p.c_str()) != 0) f.error("unlink " + p.string() + ": " + errname(errno));
    }
}

// --- POSIX random mode --------------------------------------------------------------------

PosixRuns::PosixRuns(fs::path posix_binary, fs::path splicefs_binary, fs::path scratch)
    : posix_binary_(std::move(posix_binary)),
      splicefs_binary_(std::move(splicefs_binary)),
      scratch_(std::move(scratch)) {}

Target PosixRuns::target() {
    // The daemon of the running suite: its child whose argv[0] is the splicefs binary. Cached
    // (the prober asks every millisecond) until that daemon is gone.
    struct Cache {
        std::mutex mu;
        pid_t posix = -1, daemon = -1;
        fs::path mnt;
    };
    auto cache = std::make_shared<Cache>();
    auto running = running_;
    const std::string bin = splicefs_binary_.string();
    auto lookup = [cache, running, bin]() -> std::pair<pid_t, fs::path> {
        const std::lock_guard lock(cache->mu);
        const pid_t p = running->load();
        if (p <= 0) return {-1, {}};
        if (cache->posix == p && cache->daemon > 0) {
            const char s = state_of(cache->daemon);
            if (s != '\0' && s != 'Z') return {cache->daemon, cache->mnt};
        }
        cache->posix = p;
        cache->daemon = -1;
        cache->mnt.clear();
        for (const pid_t c : children_of(p)) {
            const auto argv = cmdline_of(c);
            if (argv.size() >= 3 && argv[0] == bin) {
                cache->daemon = c;
                cache->mnt = argv.back();
                break;
            }
        }
        return {cache->daemon, cache->mnt};
    };
    return Target{[lookup] { return lookup().first; }, [lookup] { return lookup().second; }};
}

void PosixRuns::round(std::uint64_t seed, Findings& f) {
    const fs::path out = scratch_ / ("posix-" + std::to_string(seed) + ".out");
    std::vector<std::string> argv{posix_binary_.string(),
                                  "--gtest_filter=Posix/OnMount.RandomOperations/splice_cacheauto"};
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    std::string extra;
    for (const auto& a : chaos_daemon_args()) extra += a + " ";
    env.insert(env.end(), {"POSIX_RANDOM_SEED=" + std::to_string(seed),
                           "POSIX_RANDOM_OPS=" + std::to_string(Settings::get().posix_ops),
                           "POSIX_RANDOM_ROUNDS=1", "POSIX_SHRINK_BUDGET=0", "SPLICEFS_TEST_ARGS=" + extra,
                           "SPLICEFS_BIN=" + splicefs_binary_.string()});
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    const std::string out_path = out.string();
    const pid_t pid = fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        const int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execve(cargv[0], cargv.data(), cenv.data());
        _exit(127);
    }
    running_->store(pid);
    int status = 0;
    const auto deadline = Clock::now() + 300s;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
            kill(pid, SIGTERM);  // its daemon gets SIGTERM too (PDEATHSIG) and unmounts
            waitpid(pid, &status, 0);
            f.error("posix_tests seed " + std::to_string(seed) + " still running after 300 s: killed");
            break;
        }
        std::this_thread::sleep_for(10ms);
    }
    running_->store(-1);
    const std::string text = read_text(out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        text.find("[  PASSED  ] 1 test") == std::string::npos) {
        // The divergence itself (the suite's shrinker is off: a run under kills does not repeat);
        // the whole output is kept next to the scratch dir.
        const auto from = text.find("diverged:");
        const auto to = text.find("minimal reproduction", from == std::string::npos ? 0 : from);
        const std::string what = from == std::string::npos
                                     ? tail_lines(text, 40)
                                     : text.substr(from, std::min<std::size_t>(to - from, 4000));
        const fs::path kept = scratch_.string() + "-" + out.filename().string();
        std::error_code ec;
        fs::copy_file(out, kept, fs::copy_options::overwrite_existing, ec);
        f.error("POSIX random mode, seed " + std::to_string(seed) + ", status " + std::to_string(status) +
                " (output kept in " + kept.string() + "): " + what);
    } else {
        f.check();
        fs::remove(out);
    }
}

}  // namespace splicefs::failover
