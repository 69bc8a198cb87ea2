// splicefs: parse the command line, then run the mount. Start-up errors become exactly one
// "splicefs: ..." line on stderr and the documented exit code (core/exit_codes.hpp).
#include <cstdio>
#include <exception>
#include <span>
#include <string>

#include "cli/parse.hpp"
#include "cli/stats_command.hpp"
#include "cli/upgrade_command.hpp"
#include "core/exit_codes.hpp"
#include "core/log.hpp"
#include "mount/failover_supervisor.hpp"
#include "mount/run.hpp"
#include "mount/version.hpp"

namespace {

// --help > /dev/full must not report success.
int print(const std::string& text) {
    return std::fputs(text.c_str(), stdout) < 0 || std::fflush(stdout) != 0 ? 1 : 0;
}

int fail(splicefs::ExitCode code, const std::string& message) {
    std::string line = message;
    for (char& ch : line) {
        if (ch == '\n') ch = ' ';
    }
    (void)std::fprintf(stderr, "splicefs: %s\n", line.c_str());
    splicefs::log::flush();
    return splicefs::to_int(code);
}

}  // namespace

int main(int argc, char** argv) {
    using splicefs::cli::Action;
    try {
        const std::span<const char* const> args(argv, static_cast<std::size_t>(argc));
        if (splicefs::cli::is_stats_command(args)) return splicefs::cli::run_stats_command(args);
        if (splicefs::cli::is_upgrade_command(args)) return splicefs::cli::run_upgrade_command(args);
        auto parsed = splicefs::cli::parse_command_line(args);
        switch (parsed.action) {
            case Action::Help:
                return print(splicefs::cli::help_text());
            case Action::Version:
                return print(splicefs::mount::version_text());
            case Action::HandoffVersion:
                return print(splicefs::mount::handoff_version_text() + "\n");
            case Action::DumpOptions:
                return print(splicefs::cli::dump_options());
            case Action::Run:
                break;
        }
        return splicefs::mount::run(std::move(parsed.config));
    } catch (const splicefs::ExitError& e) {
        return fail(e.code(), e.what());
    } catch (const std::exception& e) {
        return fail(splicefs::ExitCode::Runtime, e.what());
    }
}
