#include "cli/stats_prometheus.hpp"

#include <fmt/format.h>

#include <array>
#include <bit>
#include <charconv>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "cli/stats_json.hpp"
#include "core/stats.hpp"

namespace splicefs::cli {
namespace {

// Label values escape backslash, double quote and newline (the exposition format's rule).
std::string label_value(std::string_view v) {
    std::string out;
    for (const char ch : v) {
        if (ch == '\\') {
            out += "\\\\";
        } else if (ch == '"') {
            out += "\\\"";
        } else if (ch == '\n') {
            out += "\\n";
        } else {
            out += ch;
        }
    }
    return out;
}

// Microseconds as seconds, exactly (6 decimals).
std::string seconds(std::uint64_t us) {
    return fmt::format("{}.{:06}", us / 1000000, us % 1000000);
}

struct Mount {
    std::string label;  // mountpoint="..."
    std::optional<StatsJson> doc;
};

using Buckets = std::array<std::uint64_t, LatencyHistogram::kBuckets>;

// {"1":n,"64":n,...,"inf":n} (see Stats::to_json()) back into bucket counts.
Buckets buckets_of(const StatsJson& op) {
    Buckets b{};
    const StatsJson& obj = op.at("buckets");
    if (!obj.is_object) throw std::invalid_argument("\"buckets\" is not an object");
    for (std::size_t i = 0; i < obj.keys.size(); ++i) {
        const std::string& key = obj.keys[i];
        std::size_t index = LatencyHistogram::kBuckets - 1;
        if (key != "inf") {
            std::uint64_t bound = 0;
            const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), bound);
            if (ec != std::errc{} || end != key.data() + key.size() || !std::has_single_bit(bound) ||
                std::bit_width(bound) >= LatencyHistogram::kBuckets) {
                throw std::invalid_argument("bad latency bucket \"" + key + "\"");
            }
            index = static_cast<std::size_t>(std::bit_width(bound) - 1);
        }
        if (obj.values[i].is_object || obj.values[i].number < 0) {
            throw std::invalid_argument("bad latency bucket count");
        }
        b[index] = static_cast<std::uint64_t>(obj.values[i].number);
    }
    return b;
}

class Exposition {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    void sample(std::string_view name, std::string_view labels, std::int64_t value) {
        out_ += fmt::format("{}{{{}}} {}\n", name, labels, value);
    }
    void sample(std::string_view name, std::string_view labels, std::string_view value) {
        out_ += fmt::format("{}{{{}}} {}\n", name, labels, value);
    }
    [[nodiscard]] std::string take() { return std::move(out_); }

private:
    std::string out_;
};

struct Scalar {
    std::string_view metric;
    std::string_view type;
    std::string_view key;
    std::string_view help;
};
constexpr std::array kScalars = {
    Scalar{"splicefs_open_files", "gauge", "open_files", "Open file handles."},
    Scalar{"splicefs_open_dirs", "gauge", "open_dirs", "Open directory handles."},
    Scalar{"splicefs_known_inodes", "gauge", "known_inodes", "Inodes the kernel holds references to."},
    Scalar{"splicefs_inode_fds", "gauge", "inode_fds", "Known inodes holding an O_PATH fd."},
    Scalar{"splicefs_inode_reopens_total", "counter", "inode_reopens",
           "Evicted O_PATH fds reopened by file handle."},
    Scalar{"splicefs_passthrough_opens_total", "counter", "passthrough_opens",
           "Opens the kernel serves itself (kernel passthrough)."},
    Scalar{"splicefs_passthrough_fallbacks_total", "counter", "passthrough_fallbacks",
           "Opens that could not use kernel passthrough and took the splice path."},
    Scalar{"splicefs_watched_dirs", "gauge", "watched_dirs",
           "Directories the backing watch marks (absent when the watch is off)."},
    Scalar{"splicefs_outside_changes_total", "counter", "outside_changes",
           "Changes made outside the mount that were pushed to the kernel."},
    Scalar{"splicefs_changed_opens_total", "counter", "changed_opens",
           "Opens that found the backing file changed since the kernel last saw it (cache dropped)."},
    Scalar{"splicefs_splice_fallbacks_total", "counter", "splice_fallbacks",
           "Files whose writes are copied because the backing refused splice."},
    Scalar{"splicefs_spin_windows_total", "counter", "spin_windows",
           "Receives the serving thread spun before (--spin-us; absent when the spin is off)."},
    Scalar{"splicefs_spin_caught_total", "counter", "spin_caught",
           "Spins that found a request waiting (a wake-up saved)."},
    Scalar{"splicefs_spin_contended_total", "counter", "spin_contended",
           "Spins cut short because another task wanted the CPU."},
    Scalar{"splicefs_failover_enabled", "gauge", "failover",
           "1 when the death of the worker would be survived (failover on), else 0."},
    Scalar{"splicefs_failovers_total", "counter", "failovers", "Workers replaced after a death."},
    Scalar{"splicefs_requests_resent_total", "counter", "requests_resent",
           "Requests the kernel resent to a new worker after a failover or upgrade."},
    Scalar{"splicefs_upgrades_total", "counter", "upgrades", "Live upgrades (splicefs upgrade) that took."},
    Scalar{"splicefs_upgrade_failures_total", "counter", "upgrade_failures", "Live upgrades refused."},
    Scalar{"splicefs_supervisor_pid", "gauge", "supervisor_pid", "Pid of the daemon that holds the mount."},
    Scalar{"splicefs_worker_pid", "gauge", "worker_pid", "Pid of the process serving requests."},
};

// The spin's time, in seconds like every Prometheus duration.
void spin_time(Exposition& e, const std::vector<Mount>& mounts) {
    e.family("splicefs_spin_seconds_total", "counter",
             "Time the serving thread spent spinning before receives (--spin-us; absent when off).");
    for (const Mount& m : mounts) {
        if (!m.doc || m.doc->find("spin_us") == nullptr || m.doc->num("spin_max_us") == 0) continue;
        e.sample("splicefs_spin_seconds_total", m.label,
                 seconds(static_cast<std::uint64_t>(m.doc->num("spin_us"))));
    }
}

// The pause of the last failover or upgrade, and the running version (an info-style gauge).
void failover_extras(Exposition& e, const std::vector<Mount>& mounts) {
    e.family("splicefs_failover_last_pause_seconds", "gauge",
             "From the supervisor noticing a worker's death (or starting an upgrade) to the first reply "
             "of the next worker.");
    for (const Mount& m : mounts) {
        if (!m.doc || m.doc->find("failover_last_pause_us") == nullptr) continue;
        e.sample("splicefs_failover_last_pause_seconds", m.label,
                 seconds(static_cast<std::uint64_t>(m.doc->num("failover_last_pause_us"))));
    }
    e.family("splicefs_build_info", "gauge", "Always 1; labelled with the running daemon's versions.");
    for (const Mount& m : mounts) {
        if (!m.doc || m.doc->find("version") == nullptr) continue;
        e.sample("splicefs_build_info",
                 fmt::format(
                     R"({},version="{}",handoff_version="{}")", m.label, label_value(m.doc->str("version")),
                     label_value(m.doc->find("handoff_version") != nullptr ? m.doc->str("handoff_version")
                                                                           : std::string{})),
                 1);
    }
}

void transfers(Exposition& e, const std::vector<Mount>& mounts) {
    struct Part {
        std::string_view metric, suffix, help;
    };
    for (const Part& p : {Part{"splicefs_transfer_bytes_total", "bytes", "File data moved"},
                          Part{"splicefs_transfer_requests_total", "requests", "READ and WRITE requests"}}) {
        e.family(p.metric, "counter",
                 fmt::format("{} (direction read: backing file -> kernel, write: kernel -> backing file; "
                             "method splice: kernel-side, copy: through the daemon's memory).",
                             p.help));
        for (const Mount& m : mounts) {
            if (!m.doc) continue;
            for (const std::string_view dir : {"read", "write"}) {
                const StatsJson& t = m.doc->at(dir == "read" ? "reads" : "writes");
                e.sample(p.metric, fmt::format(R"({},direction="{}",method="splice")", m.label, dir),
                         t.num(fmt::format("spliced_{}", p.suffix)));
                e.sample(p.metric, fmt::format(R"({},direction="{}",method="copy")", m.label, dir),
                         t.num(fmt::format("copied_{}", p.suffix)));
            }
        }
    }
}

void operations(Exposition& e, const std::vector<Mount>& mounts) {
    // Each op's object, per mount (ops without calls are not in the document).
    auto each_op = [&mounts](auto&& fn) {
        for (const Mount& m : mounts) {
            if (!m.doc) continue;
            const StatsJson& ops = m.doc->at("ops");
            if (!ops.is_object) throw std::invalid_argument("\"ops\" is not an object");
            for (std::size_t i = 0; i < ops.keys.size(); ++i) {
                fn(fmt::format(R"({},op="{}")", m.label, label_value(ops.keys[i])), ops.values[i]);
            }
        }
    };
    e.family("splicefs_operations_total", "counter", "FUSE requests answered, per operation.");
    each_op([&e](const std::string& l, const StatsJson& op) {
        e.sample("splicefs_operations_total", l, op.num("calls"));
    });
    e.family("splicefs_operation_errors_total", "counter",
             "FUSE requests answered with an error, per operation.");
    each_op([&e](const std::string& l, const StatsJson& op) {
        e.sample("splicefs_operation_errors_total", l, op.num("errors"));
    });
    constexpr std::string_view kHist = "splicefs_operation_duration_seconds";
    e.family(kHist, "histogram", "Time from a request's arrival to its answer, per operation.");
    each_op([&e, kHist](const std::string& l, const StatsJson& op) {
        if (op.find("buckets") == nullptr) return;  // a daemon from before the histograms
        const Buckets b = buckets_of(op);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < b.size(); ++i) {
            seen += b[i];
            if (i <= kPrometheusMaxBucket) {
                e.sample(fmt::format("{}_bucket", kHist),
                         fmt::format(R"({},le="{}")", l, seconds(std::uint64_t{1} << i)),
                         static_cast<std::int64_t>(seen));
            }
        }
        e.sample(fmt::format("{}_bucket", kHist), fmt::format(R"({},le="+Inf")", l),
                 static_cast<std::int64_t>(seen));
        e.sample(fmt::format("{}_sum", kHist), l, seconds(static_cast<std::uint64_t>(op.num("sum_us"))));
        e.sample(fmt::format("{}_count", kHist), l, static_cast<std::int64_t>(seen));
    });
}

}  // namespace

std::string format_prometheus(std::span<const MountCounters> mounts) {
    std::vector<Mount> parsed;
    for (const MountCounters& m : mounts) {
        Mount p{fmt::format(R"(mountpoint="{}")", label_value(m.mountpoint)), std::nullopt};
        if (!m.json.empty()) p.doc = parse_stats_json(m.json);
        parsed.push_back(std::move(p));
    }
    Exposition e;
    e.family("splicefs_up", "gauge", "1 when the mount's daemon answered with its counters, else 0.");
    for (const Mount& m : parsed) e.sample("splicefs_up", m.label, m.doc ? 1 : 0);
    transfers(e, parsed);
    for (const Scalar& s : kScalars) {
        e.family(s.metric, s.type, s.help);
        for (const Mount& m : parsed) {
            if (!m.doc || m.doc->find(s.key) == nullptr) continue;
            const std::int64_t v = m.doc->num(s.key);
            if (s.key == "watched_dirs" && v < 0) continue;  // -1: the watch is off
            if (s.key.starts_with("spin_") && m.doc->num("spin_max_us") == 0) continue;
            e.sample(s.metric, m.label, v);
        }
    }
    spin_time(e, parsed);
    failover_extras(e, parsed);
    operations(e, parsed);
    return e.take();
}

}  // namespace splicefs::cli
