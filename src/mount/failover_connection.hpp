#pragma once
// The FUSE connection behind a mountpoint, found without touching the mount (a stat would
// wait for a worker that may be dead): /proc/self/mountinfo's major:minor, the number of the
// connection's directory in fusectl (/sys/fs/fuse/connections/N).
#include <filesystem>
#include <istream>
#include <optional>
#include <string>

namespace splicefs::mount {

// N of the last fuse* mount on `mountpoint` in a mountinfo text; nullopt when none.
[[nodiscard]] std::optional<unsigned long> fuse_connection_of(std::istream& mountinfo,
                                                              const std::string& mountpoint);
[[nodiscard]] std::optional<unsigned long> fuse_connection_of(const std::filesystem::path& mountpoint);

// Writes to /sys/fs/fuse/connections/N/abort: every waiting caller gets ECONNABORTED/ENOTCONN.
// False (with the reason) when fusectl is not mounted or the write is refused.
bool abort_connection(unsigned long connection, std::string& why);

// umount2(MNT_DETACH) as root, `fusermount3 -u -q -z` otherwise. False when it failed.
bool lazy_unmount(const std::filesystem::path& mountpoint);

}  // namespace splicefs::mount
