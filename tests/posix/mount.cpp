#include "mount.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace posixtest {
namespace {

std::vector<char*> to_argv(const std::vector<std::string>& args) {
    std::vector<char*> out;
    out.reserve(args.size() + 1);
    for (const auto& a : args) out.push_back(const_cast<char*>(a.c_str()));
    out.push_back(nullptr);
    return out;
}

// Undoes the octal escapes of /proc/self/mountinfo (\040 for space and friends).
std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            const std::string oct = s.substr(i + 1, 3);
            out.push_back(static_cast<char>(std::stoi(oct, nullptr, 8)));
            i += 3;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TempDir::TempDir(const std::string& prefix) {
    std::string tmpl = prefix + "XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    // Never recurse into a mount that is still up: leave the directory for a human instead.
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string id, parent, devno, root, mnt;
        ls >> id >> parent >> devno >> root >> mnt;
        if (unescape(mnt).rfind(path_ + "/", 0) == 0) return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

int run_command(const std::vector<std::string>& argv, bool quiet) {
    auto cargv = to_argv(argv);
    const pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (quiet) {
            const int devnull = ::open("/dev/null", O_WRONLY);
            if (devnull >= 0) {
                ::dup2(devnull, 1);
                ::dup2(devnull, 2);
            }
        }
        ::execvp(cargv[0], cargv.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

bool is_mountpoint(const std::string& path) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string id, parent, devno, root, mnt;
        ls >> id >> parent >> devno >> root >> mnt;
        if (unescape(mnt) == path) return true;
    }
    return false;
}

std::vector<FsVariant> variants_from_env() {
    const char* env = std::getenv("POSIX_FS");
    const std::string fs = env != nullptr && *env != '\0' ? env : "splicefs";
    if (fs == "bindfs") {
        // Only to shake out the harness: bindfs has no splice or cache switches.
        return {{"bindfs", "bindfs", {"-f", "-o", "allow_other,default_permissions"}, false}};
    }
    const char* bin_env = std::getenv("SPLICEFS_BIN");
    const std::string bin = bin_env != nullptr && *bin_env != '\0' ? bin_env : SPLICEFS_BINARY;
    std::vector<std::string> base = {"-f", "--allow-other"};
    // SPLICEFS_TEST_ARGS runs every variant in another mode (e.g. --data-path=passthrough).
    if (const char* extra = std::getenv("SPLICEFS_TEST_ARGS"); extra != nullptr) {
        std::istringstream words(extra);
        for (std::string w; words >> w;) base.push_back(w);
    }
    auto with = [&](std::vector<std::string> extra) {
        auto args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    return {
        {"splice_cacheauto", bin, with({}), true},
        {"nosplice_cacheauto", bin, with({"--no-splice"}), true},
        {"splice_cachenever", bin, with({"--cache=never"}), true},
        {"nosplice_cachenever", bin, with({"--no-splice", "--cache=never"}), true},
    };
}

Mount::Mount(const FsVariant& variant, const std::string& backing, const std::string& mountpoint,
             const std::string& logfile)
    : mountpoint_(mountpoint) {
    std::vector<std::string> argv = {variant.binary};
    argv.insert(argv.end(), variant.args.begin(), variant.args.end());
    argv.push_back(backing);
    argv.push_back(mountpoint);
    auto cargv = to_argv(argv);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        // If the test process dies (killed, crashed), the daemon gets SIGTERM and unmounts.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        const int log = ::open(logfile.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (log >= 0) {
            ::dup2(log, 1);
            ::dup2(log, 2);
        }
        ::execvp(cargv[0], cargv.data());
        ::_exit(127);
    }
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::seconds(15);
    while (!is_mountpoint(mountpoint_)) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("daemon exited before mounting (status " + std::to_string(status) +
                                     "): " + read_file(logfile));
        }
        if (clock::now() > deadline) {
            unmount();
            throw std::runtime_error("mount did not appear within 15 s: " + read_file(logfile));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

Mount::~Mount() {
    unmount();
}

bool Mount::daemon_alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

void Mount::unmount() noexcept {
    if (is_mountpoint(mountpoint_)) run_command({"fusermount3", "-u", mountpoint_});
    if (pid_ > 0) {
        using clock = std::chrono::steady_clock;
        const auto deadline = clock::now() + std::chrono::seconds(10);
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (clock::now() > deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        pid_ = -1;
    }
    if (is_mountpoint(mountpoint_)) {
        run_command({"fusermount3", "-u", "-z", mountpoint_});
        if (is_mountpoint(mountpoint_)) run_command({"umount", "-l", mountpoint_});
    }
}

}  // namespace posixtest
