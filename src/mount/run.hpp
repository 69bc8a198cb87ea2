#pragma once
// The mount lifecycle: checks, session, mount, daemon, loop, unmount.
#include "core/config.hpp"

namespace splicefs::mount {

// Mounts and serves until unmounted or signalled. Returns the process exit code (0 after a
// clean unmount or SIGINT/SIGTERM); throws ExitError for start-up failures before the daemon
// detaches (the caller prints them as one "splicefs: ..." line).
[[nodiscard]] int run(Config config);

}  // namespace splicefs::mount
