#pragma once
// The option registry: the single source of truth for every command-line option and -o word.
// The CLI11 parser, --help, the -o translator (and later the man page and bash completion,
// via `splicefs --dump-options`) are all generated from this table.
#include <span>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/exit_codes.hpp"

namespace splicefs::cli {

enum class Group { General, DataPath, Cache, Threads, Logging, Access, Reshape, FuseOptions };
[[nodiscard]] std::string_view group_title(Group group) noexcept;

enum class ValueKind { Flag, Unsigned, Seconds, Choice, Path, Text, OptionList };
[[nodiscard]] std::string_view kind_name(ValueKind kind) noexcept;

// Bad options or arguments (exit code 1).
class UsageError : public ExitError {
public:
    explicit UsageError(const std::string& message) : ExitError(ExitCode::BadArguments, message) {}
};

// Sets the option's effect on a Config. Flags get an empty value. Throws std::invalid_argument
// with a message that does not repeat the option name (the caller knows how it was spelled).
using Setter = void (*)(Config& config, std::string_view value);

struct OptionSpec {
    std::string_view long_name;  // without dashes; empty for -o
    char short_name;             // '\0' when none
    ValueKind kind;
    std::string_view value_name;    // "N", "SECS", ...; empty for flags
    std::string_view default_text;  // shown as [default: ...]; empty when there is nothing to say
    Group group;
    std::string_view help;
    Setter apply;  // nullptr for --help, --version, -o (handled by the parser)
    bool o_word;   // also accepted as an -o word (with '_' or '-')
};

[[nodiscard]] std::span<const OptionSpec> registry() noexcept;

// Looks up a long option by name; '_' and '-' are interchangeable. nullptr when unknown.
[[nodiscard]] const OptionSpec* find_option(std::string_view name) noexcept;

// "-f, --foreground", "--threads N", "-o LIST".
[[nodiscard]] std::string display_name(const OptionSpec& spec);

}  // namespace splicefs::cli
