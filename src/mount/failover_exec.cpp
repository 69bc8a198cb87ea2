#include "mount/failover_exec.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

#include "sys/fd.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): posix_spawn and execve

namespace splicefs::mount {

namespace {
std::string why(int err) {
    return std::generic_category().message(err);
}

std::vector<char*> c_argv(std::vector<std::string>& words) {
    std::vector<char*> out;
    out.reserve(words.size() + 1);
    for (auto& w : words) out.push_back(w.data());
    out.push_back(nullptr);
    return out;
}
}  // namespace

std::filesystem::path current_executable() {
    std::error_code ec;
    std::string path = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    constexpr std::string_view kDeleted = " (deleted)";
    if (path.ends_with(kDeleted)) path.resize(path.size() - kDeleted.size());
    return path;
}

std::vector<std::string> own_arguments() {
    std::string all;
    const sys::UniqueFd fd(::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC));
    std::array<char, 4096> buf{};
    ssize_t n = 0;
    while (fd && (n = ::read(fd.get(), buf.data(), buf.size())) > 0)
        all.append(buf.data(), static_cast<std::size_t>(n));
    std::vector<std::string> words;
    std::size_t start = 0;
    while (start < all.size()) {
        const std::size_t end = all.find('\0', start);
        words.push_back(all.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    if (!words.empty()) words.erase(words.begin());
    return words;
}

bool handoff_version_of(const std::filesystem::path& exe, std::string& version, std::string& err) {
    std::array<int, 2> p{};
    if (::pipe2(p.data(), O_CLOEXEC) != 0) {
        err = "pipe: " + why(errno);
        return false;
    }
    sys::UniqueFd rd(p[0]);
    sys::UniqueFd wr(p[1]);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_adddup2(&fa, wr.get(), STDOUT_FILENO);
    ::posix_spawnattr_init(&attr);
    sigset_t none;
    ::sigemptyset(&none);
    ::posix_spawnattr_setsigmask(&attr, &none);  // the supervisor blocks signals; the child must not
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    std::vector<std::string> words{exe.string(), "--handoff-version"};
    auto argv = c_argv(words);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, exe.c_str(), &fa, &attr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
    ::posix_spawnattr_destroy(&attr);
    wr.reset();
    if (rc != 0) {
        err = "cannot run it: " + why(rc);
        return false;
    }
    std::string out;
    std::array<char, 256> buf{};
    for (;;) {
        pollfd pfd{rd.get(), POLLIN, 0};
        if (::poll(&pfd, 1, 10'000) <= 0) {
            ::kill(pid, SIGKILL);
            break;
        }
        const ssize_t n = ::read(rd.get(), buf.data(), buf.size());
        if (n <= 0) break;
        out.append(buf.data(), static_cast<std::size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        err = "--handoff-version failed (an older splicefs without live upgrade?)";
        return false;
    }
    version = out.substr(0, out.find('\n'));
    return true;
}

std::string exec_with_fds(const std::filesystem::path& exe, const std::vector<std::string>& args,
                          const std::string& resume, const std::vector<int>& keep,
                          const std::filesystem::path& dir) {
    for (const int fd : keep) {
        const int flags = ::fcntl(fd, F_GETFD);
        if (flags >= 0) ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    std::vector<std::string> words{exe.string()};
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i].starts_with("--resume=")) continue;
        if (args[i] == "--resume") {
            ++i;
            continue;
        }
        words.push_back(args[i]);
    }
    words.push_back(resume);
    auto argv = c_argv(words);
    if (::chdir(dir.c_str()) != 0) return "chdir " + dir.string() + ": " + why(errno);
    ::execve(exe.c_str(), argv.data(), environ);
    const int err = errno;
    (void)::chdir("/");  // where a daemon belongs
    return why(err);
}

}  // namespace splicefs::mount
