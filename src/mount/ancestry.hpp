#pragma once
// Where two directories sit relative to each other, decided by (st_dev, st_ino) identities
// walking ".." upward — never by comparing path strings, which symlinks, bind mounts and
// "//" or "/./" spellings defeat.
#include <sys/types.h>

#include <filesystem>
#include <vector>

namespace splicefs::mount {

struct DirId {
    dev_t dev = 0;
    ino_t ino = 0;
    friend bool operator==(const DirId&, const DirId&) = default;
};

// The directory itself first, then each parent up to the root. Follows symlinks in `dir`.
// Throws std::system_error when a directory cannot be opened.
[[nodiscard]] std::vector<DirId> ancestry(const std::filesystem::path& dir);

enum class Relation { Unrelated, Same, MountpointInsideBacking, BackingInsideMountpoint };

// A mount anywhere except Unrelated would make the filesystem see itself (a loop that can
// deadlock the machine) or hide its own backing tree.
[[nodiscard]] Relation relate(const std::filesystem::path& backing, const std::filesystem::path& mountpoint);

}  // namespace splicefs::mount
