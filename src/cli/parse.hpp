#pragma once
// Command line -> Config. Usage: splicefs [options] BACKING MOUNTPOINT [-o opt[,opt...]]
// Options may come before or after the positionals (mount.fuse3 appends -o at the end).
// Precedence: -o words are applied first, in order; command-line options then override them;
// a repeated option keeps its last value.
#include <span>
#include <string>

#include "core/config.hpp"

namespace splicefs::cli {

enum class Action { Run, Help, Version, HandoffVersion, DumpOptions };

struct ParseResult {
    Action action = Action::Run;
    Config config;  // complete only for Action::Run
};

// Throws UsageError (exit code 1) with a one-line message. Paths are made absolute and
// normalised here; whether they exist is checked when mounting.
[[nodiscard]] ParseResult parse_command_line(std::span<const char* const> args);

// "DEATHS/SECONDS" (hidden --crash-loop) and "FUSE,HANDOFF,AREA" (hidden --resume); throw
// std::invalid_argument.
void parse_crash_loop(std::string_view value, Config& config);
[[nodiscard]] Config::Resume parse_resume(std::string_view value);

// Rejects combinations that cannot both hold (throws UsageError).
void check_conflicts(const Config& config);

// --help, generated from the option registry.
[[nodiscard]] std::string help_text();

// Machine-readable registry (tab-separated: long, short, kind, value, default, group, help),
// for generating the man page and shell completion.
[[nodiscard]] std::string dump_options();

}  // namespace splicefs::cli
