// splice-bench: read()+send() vs sendfile() vs splice() to sockets, pipes, files; throughput and CPU.
// One configuration by default; --sweep measures the grid of bench_grid.cpp.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "../sys/fd.hpp"
#include "bench_grid.hpp"
#include "bench_report.hpp"
#include "bench_run.hpp"
#include "guarded_main.hpp"
#include "splicefs/splice.hpp"
#include "splicefs/version.hpp"
#include "units.hpp"

namespace {

using splicefs::sys::UniqueFd;
namespace tools = splicefs::tools;

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

// An unlinked temporary file of `size` pseudo-random bytes (nothing left behind on exit).
UniqueFd make_file(const std::string& dir, std::size_t size) {
    std::string tmpl = dir + "/splice-bench-XXXXXX";
    UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
    if (!fd) throw_errno("mkstemp in " + dir);
    ::unlink(tmpl.c_str());
    constexpr std::size_t kBlock = 1 << 20;
    auto buf = std::make_unique<unsigned char[]>(kBlock);
    std::uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (std::size_t done = 0; done < size;) {
        for (std::size_t i = 0; i < kBlock; ++i) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = static_cast<unsigned char>(x);
        }
        const std::size_t n = std::min(kBlock, size - done);
        if (::write(fd.get(), buf.get(), n) != static_cast<ssize_t>(n)) throw_errno("write test file");
        done += n;
    }
    return fd;
}

// Reads the whole file once so every pass starts with a warm page cache.
void warm(int fd, std::size_t size) {
    constexpr std::size_t kBlock = 1 << 20;
    auto buf = std::make_unique<char[]>(kBlock);
    for (std::size_t off = 0; off < size;) {
        const ssize_t n = ::pread(fd, buf.get(), std::min(kBlock, size - off), static_cast<off_t>(off));
        if (n <= 0) throw_errno("read test file");
        off += static_cast<std::size_t>(n);
    }
}

std::string read_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

double load_1min() {
    return std::strtod(read_line("/proc/loadavg").c_str(), nullptr);
}

std::string load_text() {
    const std::string l = read_line("/proc/loadavg");
    // "0.52 0.58 0.59 1/234 5678": the three averages are enough.
    std::size_t cut = 0;
    for (int spaces = 0; cut < l.size() && spaces < 3; ++cut)
        if (l[cut] == ' ') ++spaces;
    return l.substr(0, cut > 0 ? cut - 1 : 0);
}

struct Plan {
    std::size_t size = 0;
    int passes = 0;
    int warmup = 0;
    std::string dir;
};

// Rounds run every row once, so slow drift (other load, thermal) reaches all rows alike.
std::vector<tools::Row> measure(const std::vector<tools::Case>& cases, int fd, const Plan& plan,
                                bool chatty) {
    std::vector<tools::Row> rows;
    rows.reserve(cases.size());
    for (const auto& c : cases) rows.push_back({c, {}, {}});
    const auto t0 = std::chrono::steady_clock::now();
    for (int round = 0; round < plan.warmup + plan.passes; ++round) {
        for (auto& r : rows) {
            const double load = load_1min();
            tools::PassResult pass;
            try {
                pass = tools::run_pass(r.c, fd, plan.size, plan.dir);
            } catch (const std::exception& e) {
                throw std::runtime_error(fmt::format("{} {} chunk {} pipe {}: {}", tools::name(r.c.dest),
                                                     tools::name(r.c.method, r.c.dest), r.c.chunk, r.c.pipe,
                                                     e.what()));
            }
            if (round < plan.warmup) continue;
            r.passes.push_back(pass);
            r.load.push_back(load);
        }
        if (chatty)  // progress only: a failed write to stderr does not spoil the measurement
            (void)std::fprintf(stderr, "splice-bench: round %d/%d done, %.0f s, load %s\n", round + 1,
                               plan.warmup + plan.passes,
                               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                               load_text().c_str());
    }
    return rows;
}

template <typename E>
CLI::Transformer choices(const std::map<std::string, E>& m) {
    return CLI::Transformer(m, CLI::ignore_case);
}

int run(int argc, char** argv) {
    CLI::App app{
        "Compare read()+send(), sendfile() and splice() from a page-cache-warm file to a socket, pipe, "
        "file or /dev/null",
        "splice-bench"};
    std::string size_text;
    std::string chunk_text = "64K";
    std::string pipe_text = "1M";
    int passes = 0;
    int warmup = -1;
    bool as_json = false;
    bool sweep = false;
    bool quick = false;
    std::string out_stem = "splice-bench-sweep";
    std::string dir = "/tmp";
    std::string file;
    tools::Dest dest = tools::Dest::tcp;
    tools::Receive receive = tools::Receive::splice;
    std::string method_text = "all";
    app.add_option("--size", size_text,
                   "Bytes to send per pass (K/M/G suffixes) [1G; --sweep 128M, --quick 4M]");
    app.add_option("--passes", passes, "Timed passes per row [5; --sweep 11, --quick 1]")
        ->check(CLI::Range(1, 1000));
    app.add_option("--warmup", warmup, "Untimed rounds first [1; --sweep 0]")->check(CLI::Range(0, 100));
    app.add_option("--chunk", chunk_text, "Bytes per system call (K/M suffixes)")->capture_default_str();
    app.add_option("--pipe", pipe_text, "Size of every pipe the bench makes (F_SETPIPE_SZ)")
        ->capture_default_str();
    app.add_option("--dest", dest, "Destination: tcp, unix, pipe, file, null")
        ->transform(choices<tools::Dest>({{"tcp", tools::Dest::tcp},
                                          {"unix", tools::Dest::unix_stream},
                                          {"pipe", tools::Dest::pipe},
                                          {"file", tools::Dest::file},
                                          {"null", tools::Dest::null}}));
    app.add_option("--receiver", receive,
                   "What the receiver does: splice (to /dev/null) or read (into a buffer)")
        ->transform(
            choices<tools::Receive>({{"splice", tools::Receive::splice}, {"read", tools::Receive::read}}));
    app.add_option("--method", method_text, "all, read+send, sendfile, splice or library")
        ->check(CLI::IsMember({"all", "read+send", "read+write", "sendfile", "splice", "library"}))
        ->capture_default_str();
    app.add_option("--dir", dir, "Where the temporary files go")->capture_default_str();
    app.add_option("--file", file, "Send this existing file instead (its first --size bytes)");
    app.add_flag("--json", as_json, "Print JSON instead of a markdown table");
    app.add_flag("--sweep", sweep, "Measure the whole grid; also writes <--out>.md, .json and .png");
    app.add_flag("--quick", quick,
                 "With --sweep: a few points, 4 MiB, 1 pass (checks the output, not speed)");
    app.add_option("--out", out_stem, "With --sweep: path prefix of the report files")->capture_default_str();
    app.set_version_flag("--version", std::string("splice-bench ") + splicefs::kVersion);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version print and exit 0; a bad option is one line and exit 1.
        if (e.get_exit_code() == 0) return app.exit(e);
        (void)std::fprintf(stderr, "splice-bench: %s\n", e.what());  // stderr is the last resort
        return 1;
    }

    if (quick && !sweep) return std::fprintf(stderr, "splice-bench: --quick needs --sweep\n"), 1;
    if (size_text.empty()) size_text = sweep ? (quick ? "4M" : "128M") : "1G";
    if (passes == 0) passes = quick ? 1 : sweep ? 11 : 5;
    if (warmup < 0) warmup = sweep ? 0 : 1;
    const auto size = tools::parse_size(size_text);
    const auto chunk = tools::parse_size(chunk_text);
    const auto pipe = tools::parse_size(pipe_text);
    if (!size || *size == 0)
        return std::fprintf(stderr, "splice-bench: bad --size '%s'\n", size_text.c_str()), 1;
    if (!chunk || *chunk == 0 || *chunk > (std::size_t{1} << 30))
        return std::fprintf(stderr, "splice-bench: bad --chunk '%s'\n", chunk_text.c_str()), 1;
    if (!pipe || *pipe < 4096 || *pipe > (std::size_t{1} << 30))
        return std::fprintf(stderr, "splice-bench: bad --pipe '%s'\n", pipe_text.c_str()), 1;

    try {
        UniqueFd fd;
        if (file.empty()) {
            fd = make_file(dir, *size);
        } else {
            fd.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
            if (!fd) throw_errno(file);
            struct stat st {};
            if (::fstat(fd.get(), &st) != 0) throw_errno("fstat");
            if (static_cast<std::size_t>(st.st_size) < *size)
                throw std::runtime_error(file + " is smaller than --size");
            if (method_text == "library" || sweep)
                throw std::runtime_error("the library rows copy to end of file: use them without --file");
        }
        warm(fd.get(), *size);

        std::vector<tools::Case> cases;
        if (sweep) {
            cases = tools::sweep_cases(quick);
        } else {
            for (const auto m : {tools::Method::read_send, tools::Method::sendfile, tools::Method::splice,
                                 tools::Method::library}) {
                const auto n = tools::name(m, dest);
                const bool all = method_text == "all" && m != tools::Method::library;
                if (all || n == method_text ||
                    (m == tools::Method::read_send && method_text.starts_with("read+")))
                    cases.push_back({dest, receive, *pipe, m == tools::Method::library ? 0 : *chunk, m});
            }
        }

        utsname u{};
        ::uname(&u);
        tools::BenchInfo info;
        info.kernel = u.release;
        info.cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
        info.size = *size;
        info.passes = passes;
        info.pipe_max = std::strtoul(read_line("/proc/sys/fs/pipe-max-size").c_str(), nullptr, 10);
        info.load_start = load_text();
        const auto t0 = std::chrono::steady_clock::now();
        const auto rows = measure(cases, fd.get(), {*size, passes, warmup, dir}, sweep);
        info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        info.load_end = load_text();

        const std::string md = tools::markdown(info, rows);
        const std::string js = tools::json(info, rows);
        if (std::fputs((as_json ? js : md).c_str(), stdout) == EOF || std::fflush(stdout) != 0)
            throw std::runtime_error("cannot write the report to stdout");
        if (sweep) {
            std::ofstream(out_stem + ".md") << md;
            std::ofstream(out_stem + ".json") << js;
            if (!std::ofstream(out_stem + ".md", std::ios::app))
                throw std::runtime_error("cannot write " + out_stem + ".md");
            tools::plot(info, rows, out_stem);
        }
    } catch (const std::exception& e) {
        (void)std::fprintf(stderr, "splice-bench: %s\n", e.what());  // stderr is the last resort
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return splicefs::tools::guarded_main("splice-bench", run, argc, argv);
}
