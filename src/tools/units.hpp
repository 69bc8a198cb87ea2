#pragma once
// Byte sizes for humans: parse "64K", "1G", "8MiB"; print "1.0 GiB".
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace splicefs::tools {

// Binary multiples (K = 1024). Empty on malformed input or overflow.
std::optional<std::size_t> parse_size(std::string_view text);
std::string human_bytes(double bytes);

}  // namespace splicefs::tools
