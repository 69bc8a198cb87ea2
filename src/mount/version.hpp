#pragma once
#include <string>

namespace splicefs::mount {

// "splicefs X\nlibfuse Y\nFUSE kernel interface 7.N\n"
[[nodiscard]] std::string version_text();

}  // namespace splicefs::mount
