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

#include "cli/options.hpp"

namespace splicefs::cli {
namespace {

// The counters document is a fixed shape (objects of integers, see Stats::to_json()), so a
// tiny parser for objects, strings and integers is all it takes; no JSON library needed.
struct Json {
    bool is_object = false;
    bool is_string = false;
    std::int64_t number = 0;
    std::string text;               // a string value
    std::vector<std::string> keys;  // members, in document order
    std::vector<Json> values;

    [[nodiscard]] const Json* find(std::string_view key) const {
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (keys[i] == key) return &values[i];
        }
        return nullptr;
    }
    [[nodiscard]] const Json& at(std::string_view key) const {
        const Json* v = find(key);
        if (v == nullptr) throw std::invalid_argument("missing \"" + std::string(key) + "\"");
        return *v;
    }
    [[nodiscard]] std::int64_t num(std::string_view key) const {
        const Json& v = at(key);
        if (v.is_object || v.is_string)
            throw std::invalid_argument("\"" + std::string(key) + "\" is not a number");
        return v.number;
    }
    [[nodiscard]] std::string str(std::string_view key) const {
        const Json& v = at(key);
        if (!v.is_string) throw std::invalid_argument("\"" + std::string(key) + "\" is not a string");
        return v.text;
    }
};

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {}

    Json document() {
        Json v = object();
        skip_space();
        if (pos_ != text_.size()) fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw std::invalid_argument("bad JSON at offset " + std::to_string(pos_) + ": " + what);
    }
    void skip_space() {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }
    void expect(char ch) {
        skip_space();
        if (pos_ >= text_.size() || text_[pos_] != ch) fail(std::string("expected '") + ch + "'");
        ++pos_;
    }
    bool peek(char ch) {
        skip_space();
        return pos_ < text_.size() && text_[pos_] == ch;
    }
    std::string string() {
        expect('"');
        std::string out;
        while (pos_ < text_.size() && text_[pos_] != '"') {
            if (text_[pos_] == '\\') fail("escapes are not used in counters");
            out += text_[pos_++];
        }
        expect('"');
        return out;
    }
    Json number() {
        skip_space();
        Json v;
        const bool negative = peek('-');
        if (negative) ++pos_;
        const std::size_t start = pos_;
        std::uint64_t n = 0;
        while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
            n = n * 10 + static_cast<std::uint64_t>(text_[pos_++] - '0');
        }
        if (pos_ == start) fail("expected a number or an object");
        v.number = negative ? -static_cast<std::int64_t>(n) : static_cast<std::int64_t>(n);
        return v;
    }
    Json value() {
        if (peek('{')) return object();
        if (!peek('"')) return number();
        Json v;
        v.is_string = true;
        v.text = string();
        return v;
    }
    Json object() {
        if (++depth_ > kMaxDepth) fail("nested too deeply");
        expect('{');
        Json v;
        v.is_object = true;
        if (!peek('}')) {
            do {
                v.keys.push_back(string());
                expect(':');
                v.values.push_back(value());
            } while (peek(',') && (++pos_, true));
        }
        expect('}');
        --depth_;
        return v;
    }

    static constexpr int kMaxDepth = 8;
    std::string_view text_;
    std::size_t pos_ = 0;
    int depth_ = 0;
};

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

std::string transfer_row(std::string_view name, const Json& t) {
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
    return "Usage: splicefs stats [--json] MOUNTPOINT\n\n"
           "Show the live counters of the splicefs mounted on MOUNTPOINT: bytes and requests per\n"
           "direction (spliced vs copied), per-operation calls, errors and latency (p50/p99, as\n"
           "power-of-two bucket bounds), open handles and known inodes. They are read from the\n"
           "mount root's read-only extended attribute user.splicefs.stats.\n\n"
           "  --json     print the counters as JSON, unchanged\n"
           "  -h, --help show this help and exit\n";
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
    const Json doc = Parser(json).document();
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
    if (const Json* backing = doc.find("backing"); backing != nullptr && backing->is_object) {
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

    const Json& ops = doc.at("ops");
    if (!ops.is_object) throw std::invalid_argument("\"ops\" is not an object");
    out +=
        fmt::format("\nOperations\n  {:<18}{:>12}{:>10}{:>14}{:>14}\n", "", "calls", "errors", "p50", "p99");
    for (std::size_t i = 0; i < ops.keys.size(); ++i) {
        const Json& op = ops.values[i];
        out += fmt::format("  {:<18}{:>12}{:>10}{:>14}{:>14}\n", ops.keys[i], op.num("calls"),
                           op.num("errors"), micros(op.num("p50_us")), micros(op.num("p99_us")));
    }
    if (ops.keys.empty()) out += "  (none yet)\n";
    return out;
}

int run_stats_command(std::span<const char* const> args) {
    CLI::App app{"splicefs stats"};
    app.set_help_flag();
    bool json = false;
    bool help = false;
    std::string mountpoint;
    app.add_flag("--json", json);
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
    if (mountpoint.empty()) throw UsageError("stats: missing MOUNTPOINT (see splicefs stats --help)");

    const std::string doc = read_stats_json(mountpoint);
    std::string out;
    if (json) {
        out = doc + "\n";
    } else {
        try {
            out = "splicefs statistics for " + mountpoint + "\n\n" + format_stats_table(doc);
        } catch (const std::invalid_argument& e) {
            throw UsageError(mountpoint + " is not a splicefs mount (" + kStatsXattr +
                             " does not hold splicefs counters: " + e.what() + ")");
        }
    }
    return std::fputs(out.c_str(), stdout) < 0 || std::fflush(stdout) != 0 ? 1 : 0;
}

}  // namespace splicefs::cli
