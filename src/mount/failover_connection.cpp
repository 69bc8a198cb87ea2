#include "mount/failover_connection.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>
#include <vector>

#include "sys/fd.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): posix_spawn's environment

namespace splicefs::mount {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view field) {
    std::string out;
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size()) {
            unsigned v = 0;
            const auto r = std::from_chars(field.data() + i + 1, field.data() + i + 4, v, 8);
            if (r.ec == std::errc{} && r.ptr == field.data() + i + 4) {
                out += static_cast<char>(v);
                i += 3;
                continue;
            }
        }
        out += field[i];
    }
    return out;
}

}  // namespace

std::optional<unsigned long> fuse_connection_of(std::istream& mountinfo, const std::string& mountpoint) {
    std::optional<unsigned long> found;
    std::string line;
    while (std::getline(mountinfo, line)) {
        std::istringstream in(line);
        std::string id, parent, devno, root, point;
        if (!(in >> id >> parent >> devno >> root >> point)) continue;
        const auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        std::istringstream tail(line.substr(dash + 3));
        std::string fstype;
        if (!(tail >> fstype) || !(fstype == "fuse" || fstype.starts_with("fuse."))) continue;
        if (unescape(point) != mountpoint) continue;
        const auto colon = devno.find(':');
        unsigned long major = 0;
        unsigned long minor = 0;
        if (colon == std::string::npos ||
            std::from_chars(devno.data(), devno.data() + colon, major).ec != std::errc{} ||
            std::from_chars(devno.data() + colon + 1, devno.data() + devno.size(), minor).ec != std::errc{}) {
            continue;
        }
        found = (major << 20) | minor;  // the kernel's dev_t, as fusectl names it
    }
    return found;
}

std::optional<unsigned long> fuse_connection_of(const std::filesystem::path& mountpoint) {
    std::ifstream in("/proc/self/mountinfo");
    if (!in) return std::nullopt;
    return fuse_connection_of(in, mountpoint.string());
}

bool abort_connection(unsigned long connection, std::string& why) {
    const std::string path = "/sys/fs/fuse/connections/" + std::to_string(connection) + "/abort";
    const sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), "1", 1) != 1) {
        why = path + ": " + std::generic_category().message(errno);
        return false;
    }
    return true;
}

bool lazy_unmount(const std::filesystem::path& mountpoint) {
    if (::geteuid() == 0) return ::umount2(mountpoint.c_str(), MNT_DETACH) == 0 || errno == EINVAL;
    std::vector<std::string> words{"fusermount3", "-u", "-q", "-z", mountpoint.string()};
    std::vector<char*> argv;
    argv.reserve(words.size() + 1);
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (::posix_spawnp(&pid, "fusermount3", nullptr, nullptr, argv.data(), environ) != 0) return false;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace splicefs::mount
