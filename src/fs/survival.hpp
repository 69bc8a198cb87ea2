#pragma once
// Failover's view of the filesystem state (docs/design.md §2): what a worker records in the
// survival area while it serves, and how the next worker rebuilds from it. The supervisor
// (mount/failover_supervisor.*) creates the Area, builds the Fs with make_fs(config, &area.stats()), and for
// each worker calls attach(); between workers it keeps the fds referenced_fds() names.
#include <cstdint>
#include <vector>

#include "fs/survival_area.hpp"

namespace splicefs::fs {
class Fs;
}

namespace splicefs::fs::survival {

// The worker side. recovering = false (the first worker): records from now on.
// recovering = true: first rebuilds the inode table (ids, counts, handles, O_PATH fds that
// still name their inode, passthrough backing ids) from what a dead worker recorded, then
// records. Open file and directory handles need nothing: their fds are the kernel's fhs.
void attach(Fs& fs, Area& area, bool recovering);

// The supervisor, between workers: every fd the area references (O_PATH fds of known inodes,
// open files and directories). Sorted.
[[nodiscard]] std::vector<int> referenced_fds(const Area& area);

// What recovery found (for logs and tests).
struct Recovered {
    std::size_t nodes = 0;               // inodes restored
    std::size_t fds_adopted = 0;         // O_PATH fds re-adopted after their fstat matched
    std::size_t fds_dropped = 0;         // O_PATH records whose fd no longer named the inode
    std::size_t open_files = 0;          // open file handles found
    std::size_t open_dirs = 0;           // open directory handles found
    std::size_t passthrough = 0;         // inodes with a live backing id
    std::size_t backing_ids_closed = 0;  // ids no open needed any more (a death mid-open or mid-close)
};
[[nodiscard]] Recovered last_recovery() noexcept;

}  // namespace splicefs::fs::survival
