// splicecp SRC DST: copy a file through the zero-copy path and say how it went.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "guarded_main.hpp"
#include "progress.hpp"
#include "splicefs/copy.hpp"
#include "splicefs/version.hpp"
#include "units.hpp"

namespace {

namespace sp = splicefs::splice;

int fail(const std::string& message) {
    fmt::print(stderr, "splicecp: {}\n", message);
    return 1;
}

int run(int argc, char** argv) {
    CLI::App app{"Copy a file with copy_file_range(2) or splice(2) (no user-space buffer)", "splicecp"};
    std::string src;
    std::string dst;
    bool quiet = false;
    bool no_progress = false;
    std::string threshold_text = "64M";
    app.add_option("SRC", src, "File to copy")->required();
    app.add_option("DST", dst, "Destination file or directory")->required();
    app.add_flag("-q,--quiet", quiet, "No final report");
    app.add_flag("--no-progress", no_progress, "Never draw a progress bar");
    app.add_option("--progress-threshold", threshold_text, "Draw a progress bar for files at least this big")
        ->capture_default_str();
    app.set_version_flag("--version", std::string("splicecp ") + splicefs::kVersion);
    CLI11_PARSE(app, argc, argv);

    const auto threshold = splicefs::tools::parse_size(threshold_text);
    if (!threshold) return fail("bad --progress-threshold '" + threshold_text + "'");

    struct stat src_st {};
    if (::stat(src.c_str(), &src_st) != 0)
        return fail(fmt::format("cannot stat '{}': {}", src, std::generic_category().message(errno)));
    if (S_ISDIR(src_st.st_mode)) return fail(fmt::format("'{}' is a directory", src));
    std::error_code ec;
    if (std::filesystem::is_directory(dst, ec))
        dst = (std::filesystem::path(dst) / std::filesystem::path(src).filename()).string();

    const auto size = static_cast<std::size_t>(src_st.st_size);
    const bool show_bar = !no_progress && !quiet && ::isatty(STDERR_FILENO) == 1 && size >= *threshold;
    splicefs::tools::ProgressBar bar(size);
    sp::CopyOptions options;
    if (show_bar) {
        options.chunk = std::size_t{16} << 20;
        options.progress = [](std::size_t done, void* ctx) {
            static_cast<splicefs::tools::ProgressBar*>(ctx)->update(done);
        };
        options.progress_context = &bar;
    }

    const auto start = std::chrono::steady_clock::now();
    sp::CopyResult result;
    try {
        result = sp::copy_file(src.c_str(), dst.c_str(), options);
    } catch (const std::system_error& e) {
        bar.finish();
        return fail(fmt::format("{} -> {}: {}", src, dst, e.code().message()));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bar.finish();
    if (!quiet) {
        const double mbps = secs > 0 ? static_cast<double>(result.bytes) / 1e6 / secs : 0.0;
        fmt::print("{} bytes in {:.3f} s ({:.1f} MB/s) via {}\n", result.bytes, secs, mbps,
                   sp::to_string(result.method));
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return splicefs::tools::guarded_main("splicecp", run, argc, argv);
}
