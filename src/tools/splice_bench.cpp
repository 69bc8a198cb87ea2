// splice-bench: read()+send() vs sendfile() vs splice() over loopback TCP, CPU and throughput.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "../sys/fd.hpp"
#include "bench_report.hpp"
#include "bench_run.hpp"
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

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Compare read()+send(), sendfile() and splice() over a loopback TCP connection",
                 "splice-bench"};
    std::string size_text = "1G";
    std::string chunk_text = "64K";
    int passes = 5;
    int warmup = 1;
    bool as_json = false;
    std::string dir = "/tmp";
    std::string file;
    app.add_option("--size", size_text, "Bytes to send per pass (K/M/G suffixes)")->capture_default_str();
    app.add_option("--passes", passes, "Timed passes per method")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app.add_option("--warmup", warmup, "Untimed rounds first")
        ->check(CLI::Range(0, 100))
        ->capture_default_str();
    app.add_option("--chunk", chunk_text, "Bytes per system call (K/M suffixes)")->capture_default_str();
    app.add_option("--dir", dir, "Where the temporary test file goes")->capture_default_str();
    app.add_option("--file", file, "Send this existing file instead (its first --size bytes)");
    app.add_flag("--json", as_json, "Print JSON instead of a markdown table");
    app.set_version_flag("--version", std::string("splice-bench ") + splicefs::kVersion);
    CLI11_PARSE(app, argc, argv);

    const auto size = tools::parse_size(size_text);
    const auto chunk = tools::parse_size(chunk_text);
    if (!size || *size == 0)
        return std::fprintf(stderr, "splice-bench: bad --size '%s'\n", size_text.c_str()), 1;
    if (!chunk || *chunk == 0 || *chunk > (std::size_t{1} << 30))
        return std::fprintf(stderr, "splice-bench: bad --chunk '%s'\n", chunk_text.c_str()), 1;

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
        }
        warm(fd.get(), *size);

        std::vector<tools::MethodRuns> runs;
        for (const auto m : tools::kMethods) runs.push_back({m, {}});
        // Rounds interleave the methods so slow drift (other load, thermal) hits all of them.
        for (int round = 0; round < warmup + passes; ++round) {
            for (auto& r : runs) {
                const auto pass = tools::run_pass(r.method, fd.get(), *size, *chunk);
                if (round >= warmup) r.passes.push_back(pass);
            }
        }

        utsname u{};
        ::uname(&u);
        const tools::BenchInfo info{u.release, ::sysconf(_SC_NPROCESSORS_ONLN),
                                    *size,     *chunk,
                                    passes,    splicefs::splice::internal_pipe::capacity()};
        const std::string text = as_json ? tools::json(info, runs) : tools::markdown(info, runs);
        std::fputs(text.c_str(), stdout);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "splice-bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
