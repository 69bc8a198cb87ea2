#include "mount/version.hpp"

#include <fuse_lowlevel.h>
#include <linux/fuse.h>  // the protocol version libfuse 3.14 speaks (its bundled copy is 7.38 too)

#include "splicefs/version.hpp"

namespace splicefs::mount {

std::string version_text() {
    return std::string("splicefs ") + kVersion + "\nlibfuse " + fuse_pkgversion() +
           "\nFUSE kernel interface " + std::to_string(FUSE_KERNEL_VERSION) + "." +
           std::to_string(FUSE_KERNEL_MINOR_VERSION) + "\n";
}

}  // namespace splicefs::mount
