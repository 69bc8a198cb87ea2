#include "cli/options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/reshape_options.hpp"
#include "core/log.hpp"

namespace splicefs::cli {
namespace {

constexpr unsigned kMaxThreads = 256;
constexpr unsigned kMaxSpinUs = 10'000;

// A whole number in lo..hi, or invalid_argument saying so.
unsigned parse_whole(std::string_view value, unsigned lo, unsigned hi) {
    unsigned n = 0;
    const auto* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, n);
    if (value.empty() || ec != std::errc{} || ptr != end || n < lo || n > hi) {
        throw std::invalid_argument("'" + std::string(value) + "' is not a whole number in " +
                                    std::to_string(lo) + ".." + std::to_string(hi));
    }
    return n;
}

double parse_seconds(std::string_view value) {
    double secs = 0;
    const auto* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, secs, std::chars_format::fixed);
    if (value.empty() || ec != std::errc{} || ptr != end || !std::isfinite(secs) || secs < 0) {
        throw std::invalid_argument("'" + std::string(value) + "' is not a number of seconds >= 0");
    }
    return secs;
}

WatchMode parse_watch(std::string_view value) {
    if (value == "auto") return WatchMode::Auto;
    if (value == "on") return WatchMode::On;
    if (value == "off") return WatchMode::Off;
    throw std::invalid_argument("'" + std::string(value) + "' is not one of auto, on, off");
}

CacheMode parse_cache(std::string_view value) {
    if (value == "auto") return CacheMode::Auto;
    if (value == "always") return CacheMode::Always;
    if (value == "never") return CacheMode::Never;
    throw std::invalid_argument("'" + std::string(value) + "' is not one of auto, always, never");
}

void apply_data_path(Config& c, std::string_view value) {
    if (value == "splice") {
        c.splice_reads = c.splice_writes = true;
        c.passthrough = false;
    } else if (value == "copy") {
        c.splice_reads = c.splice_writes = false;
        c.passthrough = false;
    } else if (value == "passthrough") {
        c.passthrough = true;
    } else {
        throw std::invalid_argument("'" + std::string(value) + "' is not one of splice, copy, passthrough");
    }
}

Transport parse_transport(std::string_view value) {
    if (value == "dev") return Transport::Dev;
    if (value == "uring") return Transport::Uring;
    throw std::invalid_argument("'" + std::string(value) + "' is not one of dev, uring");
}

std::string parse_level(std::string_view value) {
    if (!log::parse_level(value)) {
        throw std::invalid_argument("'" + std::string(value) +
                                    "' is not one of trace, debug, info, warn, error, critical, off");
    }
    return std::string(value);
}

std::filesystem::path parse_path(std::string_view value) {
    if (value.empty()) throw std::invalid_argument("needs a non-empty path");
    // Absolute now: the daemon changes directory to / when it detaches.
    return std::filesystem::absolute(std::filesystem::path(value)).lexically_normal();
}

using G = Group;
using K = ValueKind;

// Order = order in --help within each group.
constexpr OptionSpec kOptions[] = {
    {"help", 'h', K::Flag, "", "", G::General, "show this help and exit", nullptr, false},
    {"version", '\0', K::Flag, "", "", G::General,
     "print the splicefs, libfuse and FUSE kernel interface versions and exit", nullptr, false},
    {"foreground", 'f', K::Flag, "", "off", G::General, "stay in the foreground (no daemon), log to stderr",
     [](Config& c, std::string_view) { c.foreground = true; }, true},
    {"debug", 'd', K::Flag, "", "off", G::General,
     "debug output, also libfuse's request trace; implies --foreground",
     [](Config& c, std::string_view) {
         c.debug = true;
         c.foreground = true;
     },
     true},
    {"handoff-version", '\0', K::Flag, "", "", G::General,
     "print the version of the live-upgrade handoff format and exit (splicefs upgrade checks that "
     "the new binary speaks the running daemon's)",
     nullptr, false},
    {"no-failover", '\0', K::Flag, "", "on where the kernel allows it", G::General,
     "no supervisor: the death of the daemon ends the mount (programs get ENOTCONN) and live "
     "upgrade is off",
     [](Config& c, std::string_view) { c.failover = false; }, true},
    {"no-recover-stale", '\0', K::Flag, "", "recover", G::General,
     "refuse a dead FUSE mount on MOUNTPOINT instead of lazily unmounting it",
     [](Config& c, std::string_view) { c.recover_stale = false; }, true},

    {"data-path", '\0', K::Choice, "splice|copy|passthrough", "splice", G::DataPath,
     "how file data moves: splice (kernel-side through pipes), copy (through the daemon's memory), "
     "passthrough (the kernel reads and writes the backing files itself; root, Linux 6.9+; files "
     "or kernels that refuse it use splice)",
     apply_data_path, true},
    {"no-splice", '\0', K::Flag, "", "splice both ways", G::DataPath,
     "copy file data through user space in both directions",
     [](Config& c, std::string_view) {
         c.splice_reads = false;
         c.splice_writes = false;
     },
     true},
    {"no-splice-read", '\0', K::Flag, "", "splice", G::DataPath,
     "copy READ replies (backing file -> kernel) instead of splicing them",
     [](Config& c, std::string_view) { c.splice_reads = false; }, true},
    {"no-splice-write", '\0', K::Flag, "", "splice", G::DataPath,
     "copy WRITE requests (kernel -> backing file) instead of splicing them",
     [](Config& c, std::string_view) { c.splice_writes = false; }, true},
    {"splice-move", '\0', K::Flag, "", "off", G::DataPath,
     "ask the kernel to move (steal) pages when splicing READ replies (SPLICE_F_MOVE)",
     [](Config& c, std::string_view) { c.splice_move = true; }, true},
    {"direct-io", '\0', K::Flag, "", "with --cache=never", G::DataPath,
     "bypass the kernel page cache for every open file (mmap needs Linux 6.6+)",
     [](Config& c, std::string_view) { c.direct_io = DirectIo::On; }, true},
    {"no-direct-io", '\0', K::Flag, "", "", G::DataPath,
     "keep the page cache within an open with --cache=never",
     [](Config& c, std::string_view) { c.direct_io = DirectIo::Off; }, true},

    {"cache", '\0', K::Choice, "auto|always|never", "auto", G::Cache,
     "caching of data and attributes: auto (changes made to the backing tree outside the mount are "
     "pushed to the kernel as they happen, names and attributes kept up to 10s, or 1s where that "
     "cannot be watched; data kept while unchanged), always (the backing tree changes only through "
     "this mount), never (timeouts 0, no data cache)",
     [](Config& c, std::string_view v) { c.cache = parse_cache(v); }, true},
    {"attr-timeout", '\0', K::Seconds, "SECS", "by --cache: 1 (10 watched), 86400, 0", G::Cache,
     "how long the kernel may cache attributes (turns the watch off)",
     [](Config& c, std::string_view v) { c.attr_timeout = parse_seconds(v); }, true},
    {"entry-timeout", '\0', K::Seconds, "SECS", "by --cache: 1 (10 watched), 86400, 0", G::Cache,
     "how long the kernel may cache names (lookups; turns the watch off)",
     [](Config& c, std::string_view v) { c.entry_timeout = parse_seconds(v); }, true},
    {"watch", '\0', K::Choice, "auto|on|off", "auto", G::Cache,
     "watch the backing tree for outside changes (fanotify, --cache=auto): auto does so on local "
     "filesystems (ext2/3/4, XFS, Btrfs, tmpfs, F2FS, ...) and not on network, cluster or FUSE "
     "backings, whose other clients' changes no watch sees; on/off force it",
     [](Config& c, std::string_view v) { c.watch = parse_watch(v); }, true},
    {"no-watch", '\0', K::Flag, "", "watch with --cache=auto", G::Cache,
     "same as --watch=off: --cache=auto then keeps names and attributes for 1s",
     [](Config& c, std::string_view) { c.watch = WatchMode::Off; }, true},
    {"writeback-cache", '\0', K::Flag, "", "off", G::Cache,
     "let the kernel batch writes (fast small writes; only safe when the backing tree is "
     "changed through this mount alone)",
     [](Config& c, std::string_view) { c.writeback_cache = true; }, true},

    {"single-thread", 's', K::Flag, "", "one serving thread + a pool", G::Threads,
     "serve every request in one thread, with no pool for blocking ops (flock is then left to the "
     "kernel)",
     [](Config& c, std::string_view) { c.single_thread = true; }, true},
    {"threads", '\0', K::Unsigned, "N", "one serving thread + a pool", G::Threads,
     "use libfuse's multi-threaded loop with at most N worker threads (1..256)",
     [](Config& c, std::string_view v) { c.threads = parse_whole(v, 1, kMaxThreads); }, true},
    {"clone-fd", '\0', K::Flag, "", "off", G::Threads,
     "use libfuse's multi-threaded loop and give each worker thread its own /dev/fuse fd",
     [](Config& c, std::string_view) { c.clone_fd = true; }, true},
    {"spin-us", '\0', K::Unsigned, "N", "0 (off)", G::Threads,
     "after a reply, the one serving thread polls /dev/fuse for up to N microseconds before it "
     "sleeps (adaptive; it stops as soon as another task wants the CPU): for VMs whose idle vCPUs "
     "halt at once, e.g. 200 (0..10000)",
     [](Config& c, std::string_view v) { c.spin_us = parse_whole(v, 0, kMaxSpinUs); }, true},
    {"transport", '\0', K::Choice, "dev|uring", "dev", G::Threads,
     "how requests reach the daemon: dev (read/write on /dev/fuse) or uring (FUSE over io_uring, one "
     "queue per CPU; Linux 6.14+ with the fuse module's enable_uring=Y, else /dev/fuse with a log line)",
     [](Config& c, std::string_view v) { c.transport = parse_transport(v); }, true},

    {"read-only", '\0', K::Flag, "", "off", G::Access, "refuse every change, even for root (also -o ro)",
     [](Config& c, std::string_view) { c.read_only = true; }, true},
    {"allow-other", '\0', K::Flag, "", "off", G::Access,
     "let other users access the mount (also -o allow_other; non-root users need user_allow_other "
     "in /etc/fuse.conf)",
     [](Config& c, std::string_view) { c.allow_other = true; }, true},
    {"no-default-permissions", '\0', K::Flag, "", "kernel checks permissions", G::Access,
     "do not let the kernel check permissions (with --allow-other, others act with the daemon's rights)",
     [](Config& c, std::string_view) { c.default_permissions = false; }, true},

    {"log-level", '\0', K::Choice, "LEVEL", "info", G::Logging,
     "trace, debug, info, warn, error, critical or off",
     [](Config& c, std::string_view v) { c.log_level = parse_level(v); }, true},
    {"log-file", '\0', K::Path, "PATH", "none", G::Logging,
     "append log lines to PATH (without it a daemon logs nowhere unless --syslog)",
     [](Config& c, std::string_view v) { c.log_file = parse_path(v); }, true},
    {"syslog", '\0', K::Flag, "", "off", G::Logging, "log to syslog (facility daemon)",
     [](Config& c, std::string_view) { c.syslog = true; }, true},

    {"", 'o', K::OptionList, "opt[,opt...]", "", G::FuseOptions,
     "mount options: any long option above as a word (cache=never, no_splice, threads=4), ro, rw, "
     "allow_other, default_permissions, dev, suid (root only), noexec, noatime, nodiratime, "
     "relatime, strictatime, remount; fstab words (defaults, nofail, _netdev, noauto, user, "
     "x-systemd.*, ...) are ignored; other words (max_read=N, fsname=...) go to libfuse",
     nullptr, false},
};

std::string normalize(std::string_view name) {
    std::string out(name);
    std::replace(out.begin(), out.end(), '_', '-');
    return out;
}

}  // namespace

std::string_view group_title(Group group) noexcept {
    switch (group) {
        case Group::General:
            return "General";
        case Group::DataPath:
            return "Data path";
        case Group::Cache:
            return "Cache";
        case Group::Threads:
            return "Threads";
        case Group::Logging:
            return "Logging";
        case Group::Access:
            return "Access";
        case Group::Reshape:
            return "Reshaping (bindfs's options and spellings)";
        case Group::FuseOptions:
            return "FUSE -o";
    }
    return "";
}

std::string_view kind_name(ValueKind kind) noexcept {
    switch (kind) {
        case ValueKind::Flag:
            return "flag";
        case ValueKind::Unsigned:
            return "unsigned";
        case ValueKind::Seconds:
            return "seconds";
        case ValueKind::Choice:
            return "choice";
        case ValueKind::Path:
            return "path";
        case ValueKind::Text:
            return "text";
        case ValueKind::OptionList:
            return "list";
    }
    return "";
}

std::span<const OptionSpec> registry() noexcept {
    // The reshaping options (reshape_options.cpp) go before the -o entry, which stays last.
    static const std::vector<OptionSpec> all = [] {
        std::vector<OptionSpec> specs(std::begin(kOptions), std::end(kOptions) - 1);
        const auto reshape = reshape_options();
        specs.insert(specs.end(), reshape.begin(), reshape.end());
        specs.push_back(std::end(kOptions)[-1]);
        return specs;
    }();
    return all;
}

const OptionSpec* find_option(std::string_view name) noexcept {
    const std::string key = normalize(name);
    for (const auto& spec : registry()) {
        if (!spec.long_name.empty() && spec.long_name == key) return &spec;
    }
    return nullptr;
}

std::string display_name(const OptionSpec& spec) {
    std::string out;
    if (spec.short_name != '\0') {
        out += '-';
        out += spec.short_name;
        if (!spec.long_name.empty()) out += ", ";
    }
    if (!spec.long_name.empty()) {
        out += "--";
        out += spec.long_name;
        if (!spec.value_name.empty()) out += '=';
    } else if (!spec.value_name.empty()) {
        out += ' ';
    }
    out += spec.value_name;
    return out;
}

}  // namespace splicefs::cli
