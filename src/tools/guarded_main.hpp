#pragma once
// The tools' main(): runs the tool and turns whatever escapes it (an allocation failure, CLI11
// setup) into one "tool: reason" line on stderr and exit code 1.

namespace splicefs::tools {

using ToolRun = int (*)(int argc, char** argv);

[[nodiscard]] int guarded_main(const char* tool, ToolRun run, int argc, char** argv) noexcept;

}  // namespace splicefs::tools
