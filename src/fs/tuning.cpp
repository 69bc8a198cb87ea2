#include "fs/tuning.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

namespace splicefs::fs::tuning {

namespace {
std::optional<unsigned long> env_number(const char* name) {
    // Read once (knobs() is a function-local static) and splicefs never calls setenv, so no
    // other thread can change the environment under this read.
    const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
    if (v == nullptr || *v == '\0') return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const unsigned long n = std::strtoul(v, &end, 10);
    if (errno != 0 || end == nullptr || *end != '\0') {
        spdlog::warn("ignoring {}={}: not a number", name, v);
        return std::nullopt;
    }
    return n;
}

Knobs load() {
    Knobs k;
    if (auto n = env_number("SPLICEFS_TUNE_READAHEAD_KB")) k.readahead_kb = static_cast<unsigned>(*n);
    if (auto n = env_number("SPLICEFS_TUNE_MAX_BACKGROUND")) k.max_background = static_cast<unsigned>(*n);
    if (auto n = env_number("SPLICEFS_TUNE_CONGESTION")) k.congestion_threshold = static_cast<unsigned>(*n);
    if (auto n = env_number("SPLICEFS_TUNE_OFFLOAD_READ_KB")) k.offload_read_kb = static_cast<unsigned>(*n);
    if (auto n = env_number("SPLICEFS_TUNE_SERVING_THREADS")) k.serving_threads = static_cast<unsigned>(*n);
    return k;
}

// mountinfo escapes space, tab, newline and backslash as octal.
std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            const std::string oct(s.substr(i + 1, 3));
            out += static_cast<char>(std::stoi(oct, nullptr, 8));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}
}  // namespace

const Knobs& knobs() {
    static const Knobs k = load();
    return k;
}

std::optional<std::string> mount_device(const std::filesystem::path& mountpoint) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    std::optional<std::string> found;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string id, parent, dev, root, mnt;
        if (!(fields >> id >> parent >> dev >> root >> mnt)) continue;
        if (unescape(mnt) == mountpoint.string()) found = dev;  // the last one is on top
    }
    return found;
}

std::function<void()> readahead_setter(const std::filesystem::path& mountpoint, unsigned kb) {
    if (kb == 0) return {};
    const auto dev = mount_device(mountpoint);
    if (!dev) {
        spdlog::debug("readahead: {} not found in mountinfo", mountpoint.string());
        return {};
    }
    return [knob = "/sys/class/bdi/" + *dev + "/read_ahead_kb", kb] {
        std::ofstream out(knob);
        out << kb << '\n';
        out.flush();
        if (out) {
            spdlog::info("readahead of the mount set to {} KiB ({})", kb, knob);
        } else {
            // Read-only /sys (containers): not worth a warning on every mount.
            spdlog::debug("cannot write {} (readahead stays at the kernel default)", knob);
        }
    };
}

}  // namespace splicefs::fs::tuning
