#include "core/stats.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <bit>

#include "splicefs/version.hpp"

namespace splicefs {

namespace {
constexpr std::array<std::string_view, kOpCount> kOpNames = {
    "init",   "lookup",   "forget",   "getattr",     "setattr",     "readlink",
    "mknod",  "mkdir",    "unlink",   "rmdir",       "symlink",     "rename",
    "link",   "open",     "read",     "write",       "flush",       "release",
    "fsync",  "opendir",  "readdir",  "readdirplus", "releasedir",  "fsyncdir",
    "statfs", "setxattr", "getxattr", "listxattr",   "removexattr", "access",
    "create", "getlk",    "setlk",    "flock",       "fallocate",   "copy_file_range",
    "lseek"};

std::uint64_t load(const std::atomic<std::uint64_t>& a) {
    return a.load(std::memory_order_relaxed);
}

double percent(std::uint64_t part, std::uint64_t whole) {
    return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

std::string transfer_json(const TransferCounters& t) {
    return fmt::format(
        R"({{"spliced_bytes":{},"spliced_requests":{},"copied_bytes":{},"copied_requests":{}}})",
        load(t.spliced_bytes), load(t.spliced_requests), load(t.copied_bytes), load(t.copied_requests));
}

// {"1":n,"64":n,...}: only non-empty buckets, so an op with a few latencies stays short.
std::string buckets_json(const LatencyHistogram& h) {
    std::string out = "{";
    for (std::size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
        const auto n = load(h.buckets[i]);
        if (n == 0) continue;
        if (out.size() > 1) out += ',';
        if (i + 1 == LatencyHistogram::kBuckets) {
            out += fmt::format(R"("inf":{})", n);
        } else {
            out += fmt::format(R"("{}":{})", std::uint64_t{1} << i, n);
        }
    }
    return out + "}";
}

std::string c_string(const std::array<char, 160>& text) {
    std::string out;
    for (const char ch : text) {
        if (ch == '\0') break;
        out += (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20) ? '\'' : ch;
    }
    return out;
}

// Top-level keys (the failover tests read them by these names). supervisor_pid is the
// process that mounted; worker_pid the one answering (the same without a supervisor).
std::string failover_json(const FailoverCounters* f, const std::string& off_reason,
                          std::string_view handoff) {
    const auto pid = static_cast<std::int64_t>(::getpid());
    if (f == nullptr) {
        return fmt::format(
            R"("supervisor_pid":{},"worker_pid":{},"failover":0,"failover_reason":"{}","failovers":0,)"
            R"("failover_last_pause_us":0,"requests_resent":0,"upgrades":0,"upgrade_failures":0,)"
            R"("upgrade_error":"","handoff_version":"{}",)",
            pid, pid, off_reason, handoff);
    }
    return fmt::format(
        R"("supervisor_pid":{},"worker_pid":{},"failover":{},"failover_reason":"{}","failovers":{},)"
        R"("failover_last_pause_us":{},"requests_resent":{},"upgrades":{},"upgrade_failures":{},)"
        R"("upgrade_error":"{}","handoff_version":"{}",)",
        f->daemon_pid.load(), pid, f->enabled.load(), c_string(f->reason), f->failovers.load(),
        f->last_pause_us.load(), f->requests_resent.load(), f->upgrades.load(),
        f->upgrade_failures.load(std::memory_order_acquire), c_string(f->upgrade_error), handoff);
}

std::string transfer_line(std::string_view name, const TransferCounters& t) {
    const auto sb = load(t.spliced_bytes);
    const auto cb = load(t.copied_bytes);
    return fmt::format(
        "{}: {:.1f} MiB in {} requests, {} bytes spliced ({} requests), {} bytes copied ({} requests), "
        "{:.1f}% spliced",
        name, static_cast<double>(sb + cb) / 1048576.0, load(t.spliced_requests) + load(t.copied_requests),
        sb, load(t.spliced_requests), cb, load(t.copied_requests), percent(sb, sb + cb));
}
}  // namespace

std::string_view op_name(Op op) noexcept {
    const auto i = static_cast<std::size_t>(op);
    return i < kOpCount ? kOpNames[i] : std::string_view{"?"};
}

void LatencyHistogram::record(std::uint64_t micros) noexcept {
    std::size_t bucket = static_cast<std::size_t>(std::bit_width(micros));
    if (bucket >= kBuckets) bucket = kBuckets - 1;
    buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_us.fetch_add(micros, std::memory_order_relaxed);
}

std::uint64_t LatencyHistogram::quantile_upper_bound(double q) const noexcept {
    std::uint64_t total = 0;
    for (const auto& b : buckets) total += load(b);
    if (total == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        seen += load(buckets[i]);
        if (seen >= rank) return std::uint64_t{1} << i;
    }
    return std::uint64_t{1} << (kBuckets - 1);
}

std::string Stats::transfer_summary() const {
    return transfer_line("reads", reads) + "\n" + transfer_line("writes", writes);
}

std::string Stats::to_json() const {
    std::string out = fmt::format(
        R"({{"version":"{}",{}"reads":{},"writes":{},"open_files":{},"open_dirs":{},"known_inodes":{},)"
        R"("inode_fds":{},"inode_reopens":{},)"
        R"("passthrough_opens":{},"passthrough_fallbacks":{},"watched_dirs":{},"outside_changes":{},)"
        R"("changed_opens":{},"splice_fallbacks":{},"resend_window_hits":{},"handles_unanswered":{},)"
        R"("spin_max_us":{},"spin_windows":{},"spin_caught":{},"spin_contended":{},"spin_us":{},"backing":{{"fs":"{}","local":{},"watch":"{}"}},"ops":{{)",
        kVersion, failover_json(failover, failover_off_reason, handoff_version), transfer_json(reads),
        transfer_json(writes), open_files.load(), open_dirs.load(), known_inodes.load(), inode_fds.load(),
        load(inode_reopens), load(passthrough_opens), load(passthrough_fallbacks), watched_dirs.load(),
        load(outside_changes), load(changed_opens), load(splice_fallbacks), load(resend_window_hits),
        load(handles_unanswered), spin.max_us.load(std::memory_order_relaxed), load(spin.windows),
        load(spin.caught), load(spin.contended), load(spin.spun_ns) / 1000, backing_fs, backing_local ? 1 : 0,
        watch_reason);
    bool first = true;
    for (std::size_t i = 0; i < kOpCount; ++i) {
        const auto& c = ops[i];
        const auto calls = load(c.calls);
        if (calls == 0) continue;
        out += fmt::format(
            R"({}"{}":{{"calls":{},"errors":{},"p50_us":{},"p99_us":{},"sum_us":{},"buckets":{}}})",
            first ? "" : ",", kOpNames[i], calls, load(c.errors), c.latency.quantile_upper_bound(0.5),
            c.latency.quantile_upper_bound(0.99), load(c.latency.sum_us), buckets_json(c.latency));
        first = false;
    }
    out += "}}";
    return out;
}

}  // namespace splicefs
