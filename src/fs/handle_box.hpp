#pragma once
// fuse_file_info::fh is a 64-bit slot the kernel carries from open to release. Handles that
// are objects (directories) travel there as a pointer whose ownership is held by the kernel
// between opendir and releasedir: boxed by put_handle(), borrowed by handle(), and taken
// back as a unique_ptr by take_handle() in release.
#include <fuse_lowlevel.h>

#include <cstdint>
#include <memory>
#include <utility>

namespace splicefs::fs {

template <typename T>
void put_handle(fuse_file_info* fi, std::unique_ptr<T> handle) noexcept {
    fi->fh = reinterpret_cast<std::uintptr_t>(handle.release());
}

template <typename T>
[[nodiscard]] T& handle(const fuse_file_info* fi) noexcept {
    // fh is a uint64 slot by libfuse's API: the pointer must round-trip through an integer.
    return *reinterpret_cast<T*>(static_cast<std::uintptr_t>(fi->fh));  // NOLINT(performance-no-int-to-ptr)
}

template <typename T>
[[nodiscard]] std::unique_ptr<T> take_handle(fuse_file_info* fi) noexcept {
    const auto slot = static_cast<std::uintptr_t>(std::exchange(fi->fh, 0));
    return std::unique_ptr<T>(reinterpret_cast<T*>(slot));  // NOLINT(performance-no-int-to-ptr): as above
}

}  // namespace splicefs::fs
