#include "mount_fixture.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "mount_info.hpp"

namespace splicefs::test {
namespace {

using namespace std::chrono_literals;

constexpr auto kMountTimeout = 10s;
constexpr auto kExitTimeout = 10s;
constexpr auto kPoll = 10ms;

// Temp roots made by this process; the global environment checks none is left mounted.
std::vector<fs::path>& created_roots() {
    static std::vector<fs::path> roots;
    return roots;
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Runs argv (PATH lookup), output discarded; returns the wait status or -1.
int run_quiet(const std::vector<std::string>& argv) {
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        execvp(cargv[0], cargv.data());
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return status;
}

bool exited_ok(int status) {
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// waitpid with a deadline; true and *status set when the child was reaped.
bool wait_for(pid_t pid, std::chrono::milliseconds timeout, int* status) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return true;
        if (r < 0 && errno != EINTR) return true;  // not our child any more
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(kPoll);
    }
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

// Skips whitespace from i; returns the new index.
std::size_t skip_ws(std::string_view s, std::size_t i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
    return i;
}

// Index just past the string starting at s[i] == '"'.
std::size_t skip_string(std::string_view s, std::size_t i) {
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\') {
            ++i;
        } else if (s[i] == '"') {
            return i + 1;
        }
    }
    return s.size();
}

// Index just past the JSON value starting at s[i].
std::size_t skip_value(std::string_view s, std::size_t i) {
    if (i >= s.size()) return i;
    if (s[i] == '"') return skip_string(s, i);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        while (i < s.size()) {
            const char c = s[i];
            if (c == '"') {
                i = skip_string(s, i);
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
            ++i;
        }
        return i;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
    return i;
}

// The raw value text of `key` among the direct members of the object `obj`.
std::optional<std::string_view> member(std::string_view obj, std::string_view key) {
    std::size_t i = skip_ws(obj, 0);
    if (i >= obj.size() || obj[i] != '{') return std::nullopt;
    ++i;
    while (true) {
        i = skip_ws(obj, i);
        if (i >= obj.size() || obj[i] != '"') return std::nullopt;
        const std::size_t name_end = skip_string(obj, i);
        const std::string_view name = obj.substr(i + 1, name_end - i - 2);
        i = skip_ws(obj, name_end);
        if (i >= obj.size() || obj[i] != ':') return std::nullopt;
        i = skip_ws(obj, i + 1);
        const std::size_t value_end = skip_value(obj, i);
        if (name == key) return obj.substr(i, value_end - i);
        i = skip_ws(obj, value_end);
        if (i >= obj.size() || obj[i] != ',') return std::nullopt;
        ++i;
    }
}

std::optional<std::int64_t> parse_int(std::optional<std::string_view> text) {
    if (!text) return std::nullopt;
    std::int64_t v = 0;
    const auto* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, v);
    if (ec != std::errc{} || ptr == text->data()) return std::nullopt;
    return v;
}

std::uint64_t as_u64(std::optional<std::int64_t> v) {
    return v && *v > 0 ? static_cast<std::uint64_t>(*v) : 0;
}

Transfer parse_transfer(std::string_view json, std::string_view section) {
    Transfer t;
    t.spliced_bytes = as_u64(json_number(json, section, "spliced_bytes"));
    t.spliced_requests = as_u64(json_number(json, section, "spliced_requests"));
    t.copied_bytes = as_u64(json_number(json, section, "copied_bytes"));
    t.copied_requests = as_u64(json_number(json, section, "copied_requests"));
    return t;
}

// Lazily detaches every splicefs mount at or below `root` (last resort, root only).
void detach_mounts_under(const fs::path& root) {
    for (const auto& e : read_mountinfo()) {
        if (e.fstype == "fuse.splicefs" && is_under(e.mountpoint, root)) {
            if (run_quiet({"fusermount3", "-u", "-z", e.mountpoint}) != 0)
                umount2(e.mountpoint.c_str(), MNT_DETACH);
        }
    }
}

// Fails the test program when a mount made by it is still there at the end.
class NoLeftoverMounts : public ::testing::Environment {
public:
    void TearDown() override {
        for (const auto& e : read_mountinfo()) {
            if (e.fstype != "fuse.splicefs") continue;
            for (const auto& root : created_roots()) {
                if (is_under(e.mountpoint, root)) {
                    ADD_FAILURE() << "left mounted: " << e.mountpoint;
                    detach_mounts_under(root);
                }
            }
        }
    }
};

// GoogleTest takes ownership of registered environments (its API needs the raw pointer).
[[maybe_unused]] const ::testing::Environment* const kEnv =
    ::testing::AddGlobalTestEnvironment(new NoLeftoverMounts);

}  // namespace

std::optional<std::int64_t> json_number(std::string_view json, std::string_view section,
                                        std::string_view key) {
    std::string_view obj = json;
    if (!section.empty()) {
        const auto sub = member(json, section);
        if (!sub) return std::nullopt;
        obj = *sub;
    }
    return parse_int(member(obj, key));
}

std::optional<std::uint64_t> StatsSnapshot::op_calls(std::string_view op) const {
    const auto ops = member(json, "ops");
    if (!ops) return std::nullopt;
    const auto one = member(*ops, op);
    if (!one) return std::nullopt;
    const auto calls = parse_int(member(*one, "calls"));
    if (!calls) return std::nullopt;
    return as_u64(calls);
}

bool is_splicefs_mounted(const fs::path& mountpoint) {
    for (const auto& e : read_mountinfo()) {
        if (e.fstype == "fuse.splicefs" && fs::path(e.mountpoint) == mountpoint) return true;
    }
    return false;
}

TempDir::TempDir(std::string_view prefix, const fs::path& parent) {
    std::string templ = (parent / (std::string(prefix) + "XXXXXX")).string();
    if (mkdtemp(templ.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
    path_ = templ;
    created_roots().push_back(path_);
}

TempDir::~TempDir() {
    if (path_.empty()) return;
    detach_mounts_under(path_);  // never recurse into a live mount
    std::error_code ec;
    fs::remove_all(path_, ec);
}

Mount::Mount(std::vector<std::string> extra_args) : root_("splicefs-mt."), args_(std::move(extra_args)) {
    backing_ = root_.path() / "backing";
    if (const char* dir = std::getenv("SPLICEFS_TEST_BACKING_DIR"); dir != nullptr && *dir != '\0') {
        backing_root_.emplace("splicefs-bk.", dir);
        fs::permissions(backing_root_->path(), fs::perms::owner_all | fs::perms::group_read |
                                                   fs::perms::group_exec | fs::perms::others_read |
                                                   fs::perms::others_exec);
        backing_ = backing_root_->path() / "backing";
    }
    mnt_ = root_.path() / "mnt";
    log_file_ = root_.path() / "splicefs.log";
    out_file_ = root_.path() / "daemon.out";
    fs::create_directory(backing_);
    fs::create_directory(mnt_);
    // mkdtemp makes the root 0700; other users (ownership tests) must reach the mount.
    fs::permissions(root_.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                      fs::perms::others_read | fs::perms::others_exec);
    // Lets scripts/test.sh tell mounts of dead test runs from live ones.
    std::ofstream(root_.path() / "owner.pid") << getpid() << '\n';
    start();
}

Mount::~Mount() {
    unmount();
}

std::vector<std::string> env_extra_args() {
    std::vector<std::string> out;
    const char* env = std::getenv("SPLICEFS_TEST_ARGS");
    std::istringstream words(env != nullptr ? env : "");
    for (std::string w; words >> w;) out.push_back(w);
    return out;
}

bool env_passthrough() {
    for (const auto& a : env_extra_args()) {
        if (a == "--data-path=passthrough") return true;
    }
    return false;
}

bool env_uring() {
    for (const auto& a : env_extra_args()) {
        if (a == "--transport=uring") return true;
    }
    return false;
}

void Mount::start() {
    std::vector<std::string> argv{SPLICEFS_BINARY, "-f", "--log-file", log_file_.string()};
    // SPLICEFS_TEST_ARGS runs the whole suite in another mode (e.g. --data-path=passthrough);
    // the test's own arguments come after and win.
    const auto env_args = env_extra_args();
    argv.insert(argv.end(), env_args.begin(), env_args.end());
    argv.insert(argv.end(), args_.begin(), args_.end());
    argv.push_back(backing_.string());
    argv.push_back(mnt_.string());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const std::string out = out_file_.string();
    const pid_t parent = getpid();

    const pid_t pid = fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
        // Only async-signal-safe calls until exec. If the test process dies, the daemon
        // gets SIGTERM and unmounts instead of leaving a dead mount behind.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(126);
        const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (in >= 0) dup2(in, STDIN_FILENO);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execv(cargv[0], cargv.data());
        _exit(127);
    }
    pid_ = pid;

    const auto deadline = std::chrono::steady_clock::now() + kMountTimeout;
    while (!is_splicefs_mounted(mnt_)) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("splicefs exited before mounting (" + describe_status(status) + ")\n" +
                                     log());
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            unmount();
            throw std::runtime_error("splicefs did not mount within 10 s\n" + log());
        }
        std::this_thread::sleep_for(kPoll);
    }
}

std::optional<int> Mount::unmount() {
    if (pid_ < 0) {
        if (is_splicefs_mounted(mnt_)) umount2(mnt_.c_str(), MNT_DETACH);
        return 0;
    }
    bool fallback = false;
    int status = 0;
    if (is_splicefs_mounted(mnt_)) {
        // A busy mount (an fd still open) refuses; give in-flight closes a moment.
        for (int attempt = 0; attempt < 20; ++attempt) {
            if (exited_ok(run_quiet({"fusermount3", "-u", mnt_.string()}))) break;
            if (!is_splicefs_mounted(mnt_)) break;
            std::this_thread::sleep_for(50ms);
        }
    }
    if (!wait_for(pid_, kExitTimeout, &status)) {
        fallback = true;
        kill(pid_, SIGKILL);
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    pid_ = -1;
    if (is_splicefs_mounted(mnt_)) {
        fallback = true;
        umount2(mnt_.c_str(), MNT_DETACH);
    }
    if (fallback) return std::nullopt;
    return status;
}

void Mount::remount() {
    expect_clean_unmount(*this);
    start();
}

StatsSnapshot Mount::stats() const {
    StatsSnapshot s;
    std::string buf(4096, '\0');
    for (int attempt = 0; attempt < 8; ++attempt) {
        const ssize_t n = getxattr(mnt_.c_str(), "user.splicefs.stats", buf.data(), buf.size());
        if (n >= 0) {
            buf.resize(static_cast<std::size_t>(n));
            s.json = buf;
            break;
        }
        if (errno != ERANGE)
            throw std::system_error(errno, std::generic_category(), "getxattr user.splicefs.stats");
        buf.resize(buf.size() * 4);
    }
    if (s.json.empty()) throw std::runtime_error("user.splicefs.stats: no value");
    s.reads = parse_transfer(s.json, "reads");
    s.writes = parse_transfer(s.json, "writes");
    s.open_files = json_number(s.json, "", "open_files").value_or(-1);
    s.open_dirs = json_number(s.json, "", "open_dirs").value_or(-1);
    s.known_inodes = json_number(s.json, "", "known_inodes").value_or(-1);
    return s;
}

StatsSnapshot Mount::stats_when_idle() const {
    StatsSnapshot s = stats();
    for (int i = 0; i < 100 && (s.open_files != 0 || s.open_dirs != 0); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        s = stats();
    }
    return s;
}

std::string Mount::log() const {
    return "--- " + log_file_.string() + " ---\n" + read_text(log_file_) + "--- daemon stdout/stderr ---\n" +
           read_text(out_file_);
}

void expect_clean_unmount(Mount& mount) {
    const auto status = mount.unmount();
    if (!status) {
        ADD_FAILURE() << "splicefs needed SIGKILL / umount -l to go away\n" << mount.log();
        return;
    }
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "splicefs ended with " << describe_status(*status) << "\n"
        << mount.log();
    EXPECT_FALSE(is_splicefs_mounted(mount.mnt()));
}

void MountTest::SetUp() {
    mount_.emplace(mount_args());
}

void MountTest::TearDown() {
    if (!mount_) return;
    const fs::path mnt = mount_->mnt();
    expect_clean_unmount(*mount_);
    mount_.reset();
    EXPECT_FALSE(is_splicefs_mounted(mnt)) << "still mounted after the test: " << mnt;
}

}  // namespace splicefs::test
