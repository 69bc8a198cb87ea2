#include "cli/stats_command.hpp"

#include <fmt/format.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

// GCC 12's optimiser reports a false "potential null pointer dereference" inside CLI11 2.1's
// inlined string splitting (as in parse.cpp).
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>

#include "cli/mount_list.hpp"
#include "cli/options.hpp"
#include "cli/stats_json.hpp"
#include "cli/stats_prometheus.hpp"

namespace splicefs::cli {
namespace {

std::string mib(std::int64_t bytes) {
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / 1048576.0);
}

// Latencies are power-of-two bucket upper bounds, hence "<=".
std::string micros(std::int64_t us) {
    if (us == 0) return "-";
    if (us < 1000) return fmt::format("<={} us", us);
    if (us < 1000000) return fmt::format("<={:.1f} ms", static_cast<double>(us) / 1e3);
    return fmt::format("<={:.1f} s", static_cast<double>(us) / 1e6);
}

// A measured duration (not a bucket bound).
std::string micros_exact(std::int64_t us) {
    if (us == 0) return "-";
    if (us < 1000) return fmt::format("{} us", us);
    return fmt::format("{:.1f} ms", static_cast<double>(us) / 1e3);
}

std::string transfer_row(std::string_view name, const StatsJson& t) {
    const auto sb = t.num("spliced_bytes");
    const auto cb = t.num("copied_bytes");
    const auto requests = t.num("spliced_requests") + t.num("copied_requests");
    const std::string share =
        sb + cb == 0 ? std::string("-")
                     : fmt::format("{:.1f}%", 100.0 * static_cast<double>(sb) / static_cast<double>(sb + cb));
    return fmt::format("  {:<8}{:>12}{:>14}{:>14}{:>14}{:>10}\n", name, requests, mib(sb + cb), mib(sb),
                       mib(cb), share);
}

}  // namespace

bool is_stats_command(std::span<const char* const> args) noexcept {
    return args.size() > 1 && args[1] != nullptr && std::string_view(args[1]) == kStatsCommand;
}

std::string stats_help_text() {
    return "Usage: splicefs stats [--format=table|json|prometheus] [MOUNTPOINT]\n\n"
           "Show the live counters of the splicefs mounted on MOUNTPOINT: bytes and requests per\n"
           "direction (spliced vs copied), per-operation calls, errors and latency (p50/p99, as\n"
           "power-of-two bucket bounds), open handles and known inodes. They are read from the\n"
           "mount root's read-only extended attribute user.splicefs.stats.\n\n"
           "  --format=table       a table (the default)\n"
           "  --format=json, --json\n"
           "                       the counters as JSON, unchanged\n"
           "  --format=prometheus  Prometheus text exposition format (counters, gauges and\n"
           "                       latency histograms, labelled by mountpoint); without\n"
           "                       MOUNTPOINT, every splicefs mount (splicefs_up 0 for one\n"
           "                       whose daemon does not answer)\n"
           "  -h, --help           show this help and exit\n";
}

std::string read_stats_json(const std::string& mountpoint) {
    std::string buf;
    for (int attempt = 0; attempt < 4; ++attempt) {  // the document can grow between the calls
        const ssize_t size = ::getxattr(mountpoint.c_str(), kStatsXattr, nullptr, 0);
        if (size >= 0) {
            buf.resize(static_cast<std::size_t>(size) + 4096);
            const ssize_t got = ::getxattr(mountpoint.c_str(), kStatsXattr, buf.data(), buf.size());
            if (got >= 0) {
                buf.resize(static_cast<std::size_t>(got));
                return buf;
            }
        }
        const int err = errno;
        if (err == ERANGE) continue;
        if (err == ENODATA || err == ENOTSUP) {
            throw UsageError(mountpoint + " is not a splicefs mount (no " + kStatsXattr +
                             " attribute; give the mountpoint itself)");
        }
        if (err == ENOTCONN) {
            throw UsageError(mountpoint +
                             ": transport endpoint is not connected (the splicefs daemon has "
                             "died; unmount with fusermount3 -u)");
        }
        throw UsageError("cannot read " + std::string(kStatsXattr) + " of " + mountpoint + ": " +
                         std::error_code(err, std::generic_category()).message());
    }
    throw UsageError("cannot read " + std::string(kStatsXattr) + " of " + mountpoint + ": it keeps growing");
}

std::string format_stats_table(std::string_view json) {
    const StatsJson doc = parse_stats_json(json);
    std::string out = "Transfers (reads: backing file -> kernel, writes: kernel -> backing file)\n";
    out += fmt::format("  {:<8}{:>12}{:>14}{:>14}{:>14}{:>10}\n", "", "requests", "total", "spliced",
                       "copied", "spliced%");
    out += transfer_row("reads", doc.at("reads"));
    out += transfer_row("writes", doc.at("writes"));

    out += fmt::format("\nOpen files {}, open directories {}, known inodes {}\n", doc.num("open_files"),
                       doc.num("open_dirs"), doc.num("known_inodes"));
    if (doc.find("inode_fds") != nullptr) {
        out += fmt::format("Inode fds held {}, reopened by file handle {}\n", doc.num("inode_fds"),
                           doc.num("inode_reopens"));
    }
    if (doc.find("passthrough_opens") != nullptr) {
        out += fmt::format("Kernel passthrough: {} opens, {} fell back to the splice path\n",
                           doc.num("passthrough_opens"), doc.num("passthrough_fallbacks"));
    }
    if (const StatsJson* backing = doc.find("backing"); backing != nullptr && backing->is_object) {
        out += fmt::format("Backing filesystem {} ({}), watch {}: {}\n", backing->str("fs"),
                           backing->num("local") != 0 ? "local" : "not local",
                           doc.num("watched_dirs") >= 0 ? "on" : "off", backing->str("watch"));
    }
    if (doc.find("watched_dirs") != nullptr && doc.num("watched_dirs") >= 0) {
        out += fmt::format("Backing watch: {} directories marked, {} outside changes pushed to the kernel\n",
                           doc.num("watched_dirs"), doc.num("outside_changes"));
    }
    if (doc.find("changed_opens") != nullptr) {
        out += fmt::format(
            "Opens that found the file changed (kernel cache dropped) {}, files copied because the "
            "backing refused splice {}\n",
            doc.num("changed_opens"), doc.num("splice_fallbacks"));
    }
    if (doc.find("spin_max_us") != nullptr && doc.num("spin_max_us") > 0) {
        out += fmt::format(
            "Spin before sleeping (--spin-us={}): {} windows, {} caught a request, {} cut short by "
            "other work, {} spun in all\n",
            doc.num("spin_max_us"), doc.num("spin_windows"), doc.num("spin_caught"),
            doc.num("spin_contended"), micros_exact(doc.num("spin_us")));
    }

    if (doc.find("supervisor_pid") != nullptr) {
        out += fmt::format("\nDaemon: splicefs {}, supervisor pid {}, worker pid {}, handoff version {}\n",
                           doc.str("version"), doc.num("supervisor_pid"), doc.num("worker_pid"),
                           doc.str("handoff_version"));
        if (doc.num("failover") != 0) {
            out += fmt::format(
                "Failover on: {} failovers, last pause {}, {} requests resent; {} upgrades, {} refused{}\n",
                doc.num("failovers"), micros_exact(doc.num("failover_last_pause_us")),
                doc.num("requests_resent"), doc.num("upgrades"), doc.num("upgrade_failures"),
                doc.str("upgrade_error").empty() ? std::string{}
                                                 : " (last: " + doc.str("upgrade_error") + ")");
        } else {
            out += fmt::format("Failover off: {}\n", doc.str("failover_reason"));
        }
    }

    const StatsJson& ops = doc.at("ops");
    if (!ops.is_object) throw std::invalid_argument("\"ops\" is not an object");
    out +=
        fmt::format("\nOperations\n  {:<18}{:>12}{:>10}{:>14}{:>14}\n", "", "calls", "errors", "p50", "p99");
    for (std::size_t i = 0; i < ops.keys.size(); ++i) {
        const StatsJson& op = ops.values[i];
        out += fmt::format("  {:<18}{:>12}{:>10}{:>14}{:>14}\n", ops.keys[i], op.num("calls"),
                           op.num("errors"), micros(op.num("p50_us")), micros(op.num("p99_us")));
    }
    if (ops.keys.empty()) out += "  (none yet)\n";
    return out;
}

namespace {

// Every splicefs mount of this namespace; one whose daemon does not answer is reported
// (splicefs_up 0, a line on stderr) without failing the others; so is one whose counters
// this splicefs cannot read (another version's daemon).
std::vector<MountCounters> all_mounts() {
    std::vector<MountCounters> out;
    for (std::string& mp : splicefs_mountpoints()) {
        MountCounters m{std::move(mp), {}};
        try {
            m.json = read_stats_json(m.mountpoint);
            (void)format_prometheus(std::span<const MountCounters>(&m, 1));
        } catch (const UsageError& e) {
            // Best effort: the other mounts are still reported if stderr is gone.
            (void)std::fprintf(stderr, "splicefs: %s\n", e.what());
            m.json.clear();
        } catch (const std::invalid_argument& e) {
            (void)std::fprintf(stderr, "splicefs: %s: unreadable counters (%s)\n", m.mountpoint.c_str(),
                               e.what());
            m.json.clear();
        }
        out.push_back(std::move(m));
    }
    return out;
}

}  // namespace

int run_stats_command(std::span<const char* const> args) {
    CLI::App app{"splicefs stats"};
    app.set_help_flag();
    bool json = false;
    bool help = false;
    std::string format = "table";
    std::string mountpoint;
    app.add_flag("--json", json);
    app.add_option("--format", format)->check(CLI::IsMember({"table", "json", "prometheus"}));
    app.add_flag("-h,--help", help);
    app.add_option("mountpoint", mountpoint);
    try {
        std::vector<std::string> argv;
        for (std::size_t i = args.size(); i > 2; --i) argv.emplace_back(args[i - 1]);  // CLI11 wants reversed
        app.parse(argv);
    } catch (const CLI::ParseError& e) {
        std::string what = e.what();
        for (char& ch : what) {
            if (ch == '\n') ch = ' ';
        }
        throw UsageError("stats: " + what);
    }
    if (help) return std::fputs(stats_help_text().c_str(), stdout) < 0 ? 1 : 0;
    if (json) {
        if (app.count("--format") != 0 && format != "json") {
            throw UsageError("stats: --json and --format=" + format + " contradict each other");
        }
        format = "json";
    }
    if (mountpoint.empty() && format != "prometheus") {
        throw UsageError("stats: missing MOUNTPOINT (see splicefs stats --help)");
    }

    std::string out;
    try {
        if (format == "prometheus") {
            // (No braced vector of {mountpoint, read_stats_json()}: GCC 12 mis-destroys such an
            // initializer list when the read throws; ASan reports it.)
            std::vector<MountCounters> mounts;
            if (mountpoint.empty()) {
                mounts = all_mounts();
            } else {
                std::string doc = read_stats_json(mountpoint);
                mounts.push_back({mountpoint, std::move(doc)});
            }
            out = format_prometheus(mounts);
        } else if (format == "json") {
            out = read_stats_json(mountpoint) + "\n";
        } else {
            out = "splicefs statistics for " + mountpoint + "\n\n" +
                  format_stats_table(read_stats_json(mountpoint));
        }
    } catch (const std::invalid_argument& e) {
        throw UsageError((mountpoint.empty() ? std::string("a mount") : mountpoint) +
                         " is not a splicefs mount (" + kStatsXattr +
                         " does not hold splicefs counters: " + e.what() + ")");
    }
    return std::fputs(out.c_str(), stdout) < 0 || std::fflush(stdout) != 0 ? 1 : 0;
}

}  // namespace splicefs::cli
