#include "cli/parse.hpp"

// GCC 12's optimiser reports a false "potential null pointer dereference" inside CLI11 2.1's
// inlined string splitting; the flag stays on everywhere else.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "cli/mount_options.hpp"
#include "cli/options.hpp"
#include "cli/reshape_options.hpp"

namespace splicefs::cli {
namespace {

std::string cli11_names(const OptionSpec& spec) {
    std::string names;
    if (spec.short_name != '\0') names = std::string("-") + spec.short_name;
    if (!spec.long_name.empty()) {
        if (!names.empty()) names += ',';
        names += "--" + std::string(spec.long_name);
    }
    return names;
}

std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

std::filesystem::path positional_path(const std::string& value, const char* what) {
    if (value.empty()) throw UsageError(std::string(what) + " is an empty path");
    return std::filesystem::absolute(std::filesystem::path(value)).lexically_normal();
}

// A whole number in [lo, hi] taken from the front of `text`; advances past it.
unsigned take_number(std::string_view& text, unsigned lo, unsigned hi, const char* what) {
    unsigned n = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || n < lo || n > hi) {
        throw std::invalid_argument(std::string("expected ") + what);
    }
    text.remove_prefix(static_cast<std::size_t>(ptr - text.data()));
    return n;
}

}  // namespace

void parse_crash_loop(std::string_view value, Config& config) {
    std::string_view rest = value;
    const unsigned deaths = take_number(rest, 1, 100000000, "DEATHS/SECONDS, e.g. 5/10");
    if (rest.empty() || rest.front() != '/')
        throw std::invalid_argument("expected DEATHS/SECONDS, e.g. 5/10");
    rest.remove_prefix(1);
    const unsigned seconds = take_number(rest, 1, 86400, "DEATHS/SECONDS, e.g. 5/10");
    if (!rest.empty()) throw std::invalid_argument("expected DEATHS/SECONDS, e.g. 5/10");
    config.crash_loop_deaths = deaths;
    config.crash_loop_seconds = seconds;
}

Config::Resume parse_resume(std::string_view value) {
    std::string_view rest = value;
    constexpr unsigned kMaxFd = 1U << 30;
    constexpr const char* kWant = "FUSE,HANDOFF,AREA fds (AREA -1: none)";
    Config::Resume r;
    r.fuse_fd = static_cast<int>(take_number(rest, 0, kMaxFd, kWant));
    if (!rest.starts_with(',')) throw std::invalid_argument(kWant);
    rest.remove_prefix(1);
    r.handoff_fd = static_cast<int>(take_number(rest, 0, kMaxFd, kWant));
    if (!rest.starts_with(',')) throw std::invalid_argument(kWant);
    rest.remove_prefix(1);
    if (rest == "-1") return r;  // area_fd stays -1
    r.area_fd = static_cast<int>(take_number(rest, 0, kMaxFd, kWant));
    if (!rest.empty()) throw std::invalid_argument(kWant);
    return r;
}

void check_conflicts(const Config& c) {
    if (c.single_thread && c.threads != 0) throw UsageError("--single-thread conflicts with --threads");
    if (c.single_thread && c.clone_fd) throw UsageError("--single-thread conflicts with --clone-fd");
    if (c.splice_move && !c.splice_reads) {
        throw UsageError("--splice-move conflicts with --no-splice / --no-splice-read");
    }
    if (c.passthrough && c.writeback_cache) {
        throw UsageError(
            "--data-path=passthrough conflicts with --writeback-cache (the kernel refuses both)");
    }
    if (c.writeback_cache && c.cache == CacheMode::Never) {
        throw UsageError("--writeback-cache conflicts with --cache=never");
    }
}

ParseResult parse_command_line(std::span<const char* const> args) {
    CLI::App app{"splicefs"};
    app.set_help_flag();  // our own --help, generated from the registry
    app.allow_extras(false);

    std::vector<std::string> positionals;
    app.add_option("paths", positionals)->expected(0, -1);

    std::vector<std::pair<const OptionSpec*, CLI::Option*>> options;
    for (const auto& spec : registry()) {
        const std::string names = cli11_names(spec);
        CLI::Option* opt = nullptr;
        if (spec.kind == ValueKind::Flag) {
            opt = app.add_flag(names)->disable_flag_override();
        } else if (spec.kind == ValueKind::OptionList) {
            opt = app.add_option(names)->take_all()->allow_extra_args(false);
        } else {
            opt = app.add_option(names)->take_last()->allow_extra_args(false);
        }
        options.emplace_back(&spec, opt);
    }

    // Hidden: the registry for man page and completion generators.
    CLI::Option* dump = app.add_flag("--dump-options")->group("");
    // Hidden: the failover tests' crash-loop rule, and the fds a live upgrade hands over.
    std::string crash_loop;
    std::string resume;
    CLI::Option* crash_loop_opt = app.add_option("--crash-loop", crash_loop)->group("");
    CLI::Option* resume_opt = app.add_option("--resume", resume)->group("");

    try {
        std::vector<std::string> argv;
        for (std::size_t i = args.size(); i > 1; --i) argv.emplace_back(args[i - 1]);  // CLI11 wants reversed
        app.parse(argv);
    } catch (const CLI::ExtrasError&) {
        const auto extra = app.remaining();
        const std::string first = extra.empty() ? std::string("?") : extra.front();
        throw UsageError((first.starts_with('-') ? "unknown option '" : "unexpected argument '") + first +
                         "'");
    } catch (const CLI::ParseError& e) {
        throw UsageError(one_line(e.what()));
    }

    ParseResult result;
    auto given = [&](std::string_view name) {
        for (auto& [spec, opt] : options) {
            if (spec->long_name == name) return opt->count() > 0;
        }
        return false;
    };
    if (given("help")) return {Action::Help, {}};
    if (given("version")) return {Action::Version, {}};
    if (given("handoff-version")) return {Action::HandoffVersion, {}};
    if (dump->count() > 0) return {Action::DumpOptions, {}};

    Config& config = result.config;
    // -o words first, then command-line options override them.
    for (auto& [spec, opt] : options) {
        if (spec->kind != ValueKind::OptionList) continue;
        for (const auto& list : opt->results()) apply_option_list(config, list);
    }
    for (auto& [spec, opt] : options) {
        if (spec->apply == nullptr || opt->count() == 0) continue;
        const std::string value = spec->kind == ValueKind::Flag ? std::string{} : opt->results().back();
        try {
            spec->apply(config, value);
        } catch (const std::invalid_argument& e) {
            throw UsageError("--" + std::string(spec->long_name) + ": " + e.what());
        }
    }

    try {
        if (crash_loop_opt->count() > 0) parse_crash_loop(crash_loop, config);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--crash-loop: ") + e.what());
    }
    try {
        if (resume_opt->count() > 0) config.resume = parse_resume(resume);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--resume: ") + e.what());
    }

    if (positionals.size() < 2) {
        throw UsageError(positionals.empty() ? "missing BACKING and MOUNTPOINT (see splicefs --help)"
                                             : "missing MOUNTPOINT (see splicefs --help)");
    }
    if (positionals.size() > 2) throw UsageError("unexpected argument '" + positionals[2] + "'");
    config.backing = positional_path(positionals[0], "BACKING");
    config.mountpoint = positional_path(positionals[1], "MOUNTPOINT");
    check_conflicts(config);
    finish_reshape(config);
    return result;
}

}  // namespace splicefs::cli
