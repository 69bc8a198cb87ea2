#include "error.hpp"

#include <system_error>

namespace splicefs::splice::detail {

void throw_errno(int err, const char* what) {
    throw std::system_error(err, std::generic_category(), what);
}

}  // namespace splicefs::splice::detail
