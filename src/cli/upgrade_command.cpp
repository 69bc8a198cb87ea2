#include "cli/upgrade_command.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "cli/options.hpp"
#include "cli/stats_command.hpp"
#include "cli/stats_json.hpp"

namespace splicefs::cli {

namespace {

constexpr auto kPatience = std::chrono::seconds(60);  // a drain waits 5 s at most, then the exec
constexpr auto kPoll = std::chrono::milliseconds(50);

struct DaemonView {
    std::int64_t failover = 0;
    std::string reason;
    std::int64_t supervisor = 0;
    std::int64_t worker = 0;
    std::int64_t upgrades = 0;
    std::int64_t failures = 0;
    std::string error;
    std::string version;
    std::int64_t pause_us = 0;
};

DaemonView look(const std::string& mountpoint) {
    const StatsJson doc = parse_stats_json(read_stats_json(mountpoint));
    if (doc.find("supervisor_pid") == nullptr) {
        throw UsageError("upgrade: the daemon of " + mountpoint + " predates live upgrade");
    }
    return {doc.num("failover"),      doc.str("failover_reason"), doc.num("supervisor_pid"),
            doc.num("worker_pid"),    doc.num("upgrades"),        doc.num("upgrade_failures"),
            doc.str("upgrade_error"), doc.str("version"),         doc.num("failover_last_pause_us")};
}

}  // namespace

bool is_upgrade_command(std::span<const char* const> args) noexcept {
    return args.size() > 1 && args[1] != nullptr && std::string_view(args[1]) == kUpgradeCommand;
}

std::string upgrade_help_text() {
    return "Usage: splicefs upgrade MOUNTPOINT\n\n"
           "Hand the live splicefs mount on MOUNTPOINT to the splicefs binary now on disk (after a\n"
           "package upgrade) without unmounting: the daemon stops its worker at a request boundary,\n"
           "checks that the new binary speaks its handoff version (splicefs --handoff-version), and\n"
           "execs it with the mount's file descriptors; requests that arrive meanwhile wait, open\n"
           "files stay open. Needs failover (not --no-failover). Prints the versions before and\n"
           "after; exits 1 with the daemon's reason when it refuses.\n\n"
           "  -h, --help   show this help and exit\n";
}

int run_upgrade_command(std::span<const char* const> args) {
    if (args.size() == 3 && (std::string_view(args[2]) == "-h" || std::string_view(args[2]) == "--help")) {
        return std::fputs(upgrade_help_text().c_str(), stdout) < 0 ? 1 : 0;
    }
    if (args.size() != 3 || std::string_view(args[2]).starts_with('-')) {
        throw UsageError("upgrade: expected one MOUNTPOINT (see splicefs upgrade --help)");
    }
    const std::string mountpoint = args[2];
    DaemonView before;
    try {
        before = look(mountpoint);
    } catch (const std::invalid_argument& e) {
        throw UsageError("upgrade: unreadable counters of " + mountpoint + ": " + e.what());
    }
    if (before.failover == 0) {
        throw UsageError("upgrade: " + mountpoint + " runs without failover (" +
                         (before.reason.empty() ? std::string("see its log") : before.reason) +
                         "); live upgrade needs it: unmount and mount again");
    }
    if (::kill(static_cast<pid_t>(before.supervisor), SIGUSR2) != 0) {
        throw UsageError(fmt::format("upgrade: cannot signal the daemon (pid {}): {}", before.supervisor,
                                     std::generic_category().message(errno)));
    }
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(kPoll);
        DaemonView now;
        try {
            now = look(mountpoint);
        } catch (const std::invalid_argument&) {
            continue;  // a document cut by the switch: ask again
        }
        if (now.upgrades > before.upgrades) {
            const int rc = std::printf(
                "upgraded %s: splicefs %s -> %s (supervisor pid %lld, worker pid %lld, "
                "paused %.1f ms)\n",
                mountpoint.c_str(), before.version.c_str(), now.version.c_str(),
                static_cast<long long>(now.supervisor), static_cast<long long>(now.worker),
                static_cast<double>(now.pause_us) / 1000.0);
            return rc < 0 ? 1 : 0;
        }
        if (now.failures > before.failures) throw UsageError("upgrade refused: " + now.error);
    }
    throw UsageError("upgrade: no answer from the daemon of " + mountpoint + " within 60 s; see its log");
}

}  // namespace splicefs::cli
