#include "mount/fuse_log.hpp"

#include <fuse_log.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <vector>

namespace splicefs::mount {
namespace {

std::mutex g_capture_mutex;
bool g_capturing = false;             // guarded by g_capture_mutex
std::vector<std::string> g_captured;  // guarded by g_capture_mutex

spdlog::level::level_enum to_spdlog(fuse_log_level level) noexcept {
    switch (level) {
        case FUSE_LOG_EMERG:
        case FUSE_LOG_ALERT:
        case FUSE_LOG_CRIT:
            return spdlog::level::critical;
        case FUSE_LOG_ERR:
            return spdlog::level::err;
        case FUSE_LOG_WARNING:
            return spdlog::level::warn;
        case FUSE_LOG_NOTICE:
        case FUSE_LOG_INFO:
            return spdlog::level::info;
        case FUSE_LOG_DEBUG:
            return spdlog::level::debug;
    }
    return spdlog::level::info;
}

void emit(spdlog::level::level_enum level, std::string line) {
    {
        std::lock_guard lock(g_capture_mutex);
        if (g_capturing && level >= spdlog::level::warn) {
            g_captured.push_back(std::move(line));
            return;
        }
    }
    spdlog::log(level, "libfuse: {}", line);
}

// libfuse builds some lines from several calls ("unknown option(s): `" ... "'\n"), so
// pieces are joined per thread until the newline.
void bridge(fuse_log_level level, const char* fmt, va_list ap) {
    thread_local std::string pending;
    const auto spd_level = to_spdlog(level);
    if (pending.empty() && !spdlog::should_log(spd_level) && spd_level < spdlog::level::warn) return;
    char buf[1024];
    const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0) return;
    pending.append(buf, std::min(static_cast<std::size_t>(n), sizeof buf - 1));
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (!line.empty()) emit(spd_level, std::move(line));
    }
}

}  // namespace

void install_fuse_log_bridge() noexcept {
    fuse_set_log_func(bridge);
}

FuseLogCapture::FuseLogCapture() {
    std::lock_guard lock(g_capture_mutex);
    g_capturing = true;
    g_captured.clear();
}

FuseLogCapture::~FuseLogCapture() {
    std::vector<std::string> left;
    {
        std::lock_guard lock(g_capture_mutex);
        g_capturing = false;
        left.swap(g_captured);
    }
    for (const auto& line : left) spdlog::warn("libfuse: {}", line);
}

std::string FuseLogCapture::take() {
    std::lock_guard lock(g_capture_mutex);
    std::string out;
    for (const auto& line : g_captured) {
        if (!out.empty()) out += "; ";
        out += line;
    }
    g_captured.clear();
    return out;
}

}  // namespace splicefs::mount
