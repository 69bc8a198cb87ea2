#pragma once
// One test's worth of filesystems: a native scratch directory and a mount of another scratch
// directory, both under the same temporary directory (so on the same filesystem type).
#include <optional>
#include <string>

#include "mount.hpp"
#include "recorder.hpp"

namespace posixtest {

class Pair {
public:
    explicit Pair(const FsVariant& variant);
    Pair(const Pair&) = delete;
    Pair& operator=(const Pair&) = delete;

    // Creates `name` (mode 0755) on both sides and returns {native path, mount path, backing path}.
    struct Roots {
        std::string native;
        std::string mounted;
        std::string backing;
    };
    Roots fresh(const std::string& name);

    [[nodiscard]] bool daemon_alive() { return mount_->daemon_alive(); }
    [[nodiscard]] const std::string& mountpoint() const { return mnt_; }
    [[nodiscard]] const std::string& backing() const { return backing_; }
    [[nodiscard]] const std::string& native() const { return native_; }
    [[nodiscard]] std::time_t start() const { return start_; }
    [[nodiscard]] std::string daemon_log() const;

private:
    TempDir dir_;
    std::string native_, backing_, mnt_, log_;
    std::time_t start_;
    std::optional<Mount> mount_;  // declared last: unmounted before dir_ is removed
};

// The whole tree under rel, in a fixed order: types, modes, sizes, contents, links, xattrs.
void snapshot(Recorder& r, const std::string& rel);

// The first divergence between two traces outside documented known-difference regions, as
// a readable report (empty if none); the ids of known differences met go to `known`.
std::string compare(const Trace& native, const Trace& mounted, std::vector<std::string>* known = nullptr);

}  // namespace posixtest
