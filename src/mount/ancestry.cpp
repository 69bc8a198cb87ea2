#include "mount/ancestry.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "sys/fd.hpp"

namespace splicefs::mount {
namespace {

// Deeper trees than this are not real directory hierarchies (or the walk is broken).
constexpr std::size_t kMaxDepth = 4096;

DirId id_of(int fd, const std::string& what) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw std::system_error(errno, std::generic_category(), what);
    return {st.st_dev, st.st_ino};
}

}  // namespace

std::vector<DirId> ancestry(const std::filesystem::path& dir) {
    sys::UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw std::system_error(errno, std::generic_category(), dir.string());
    std::vector<DirId> chain{id_of(fd.get(), dir.string())};
    while (chain.size() < kMaxDepth) {
        sys::UniqueFd parent(::openat(fd.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!parent) throw std::system_error(errno, std::generic_category(), dir.string() + "/..");
        const DirId id = id_of(parent.get(), dir.string() + "/..");
        if (id == chain.back()) break;  // ".." of the root is the root
        chain.push_back(id);
        fd = std::move(parent);
    }
    return chain;
}

Relation relate(const std::filesystem::path& backing, const std::filesystem::path& mountpoint) {
    const auto b = ancestry(backing);
    const auto m = ancestry(mountpoint);
    if (b.front() == m.front()) return Relation::Same;
    if (std::find(m.begin(), m.end(), b.front()) != m.end()) return Relation::MountpointInsideBacking;
    if (std::find(b.begin(), b.end(), m.front()) != b.end()) return Relation::BackingInsideMountpoint;
    return Relation::Unrelated;
}

}  // namespace splicefs::mount
