#pragma once
// One place that turns an errno into the library's exception type.
namespace splicefs::splice::detail {

// Throws std::system_error(err, std::generic_category(), what).
[[noreturn]] void throw_errno(int err, const char* what);

}  // namespace splicefs::splice::detail
