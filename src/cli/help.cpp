// --help and --dump-options, both generated from the option registry.
#include <string>

#include "cli/options.hpp"
#include "cli/parse.hpp"
#include "core/exit_codes.hpp"

namespace splicefs::cli {
namespace {

constexpr std::size_t kNameColumn = 32;
constexpr std::size_t kWidth = 100;

// Wraps `text` to kWidth, continuation lines indented to the help column.
void append_wrapped(std::string& out, std::string_view text, std::size_t column) {
    std::size_t col = column;
    while (!text.empty()) {
        const auto space = text.find(' ');
        const auto word = text.substr(0, space);
        if (col > column && col + 1 + word.size() > kWidth) {
            out += '\n';
            out.append(column, ' ');
            col = column;
        } else if (col > column) {
            out += ' ';
            ++col;
        }
        out += word;
        col += word.size();
        text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    }
    out += '\n';
}

constexpr Group kGroups[] = {Group::General, Group::DataPath, Group::Cache,   Group::Threads,
                             Group::Access,  Group::Reshape,  Group::Logging, Group::FuseOptions};

}  // namespace

std::string help_text() {
    std::string out =
        "Usage: splicefs [options] BACKING MOUNTPOINT [-o opt[,opt...]]\n"
        "       splicefs stats [--format=table|json|prometheus] [MOUNTPOINT]\n"
        "       splicefs upgrade MOUNTPOINT\n\n"
        "Mirror the directory BACKING at MOUNTPOINT through FUSE; file data moves with splice(2)\n"
        "(kernel-side) where it can. Without -f the command returns once the mount is live.\n"
        "Options may follow the paths; -o words apply first, command-line options override them.\n";
    for (Group group : kGroups) {
        out += '\n';
        out += group_title(group);
        out += ":\n";
        for (const auto& spec : registry()) {
            if (spec.group != group) continue;
            std::string line = "  " + display_name(spec);
            if (line.size() + 2 > kNameColumn) {
                line += '\n';
                line.append(kNameColumn, ' ');
            } else {
                line.append(kNameColumn - line.size(), ' ');
            }
            out += line;
            std::string help(spec.help);
            if (!spec.default_text.empty()) help += " [default: " + std::string(spec.default_text) + "]";
            append_wrapped(out, help, kNameColumn);
        }
    }
    out += "\nExit codes:\n";
    for (const auto& info : kExitCodes) {
        std::string line = "  " + std::to_string(to_int(info.code));
        line.append(6 - line.size(), ' ');
        out += line;
        append_wrapped(out, info.meaning, 6);
    }
    out += "\nUnmount with: fusermount3 -u MOUNTPOINT\n";
    return out;
}

std::string dump_options() {
    std::string out;
    for (const auto& spec : registry()) {
        out += std::string(spec.long_name) + '\t' + (spec.short_name ? std::string(1, spec.short_name) : "") +
               '\t' + std::string(kind_name(spec.kind)) + '\t' + std::string(spec.value_name) + '\t' +
               std::string(spec.default_text) + '\t' + std::string(group_title(spec.group)) + '\t' +
               (spec.o_word ? "o-word" : "") + '\t' + std::string(spec.help) + '\n';
    }
    return out;
}

}  // namespace splicefs::cli
