#pragma once
// STUB of issue 13b's survival area (src/fs/survival.hpp), so that this branch builds and
// runs before 13b is merged: the same names, no state. The lead drops this file and
// survival_stub.cpp at merge and includes fs/survival.hpp instead.
// Without the area a new worker starts with an empty inode table (open files keep working:
// their fds are the kernel's fhs), and the supervisor's sweep closes nothing.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sys/fd.hpp"

namespace splicefs::fs {
class Fs;
}

namespace splicefs::fs::survival {

inline constexpr std::uint32_t kFormatVersion = 0;  // 0: no survival area

class Area {
public:
    [[nodiscard]] static Area create(std::size_t /*max_fds*/) { return Area{}; }
    [[nodiscard]] static Area adopt(int memfd) {
        Area a;
        a.fd_.reset(memfd);
        return a;
    }
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }

private:
    sys::UniqueFd fd_;
};

void attach(Fs& fs, Area& area, bool recovering);

// The stub knows no fd: it names every open one, so the sweep keeps them all.
[[nodiscard]] std::vector<int> referenced_fds(const Area& area);

}  // namespace splicefs::fs::survival
