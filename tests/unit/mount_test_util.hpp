#pragma once
// Helpers for the mount-layer unit tests: a fresh temp dir removed at the end, and a mount
// guard that detaches whatever the test mounted even when an assertion fails.
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace splicefs::testing {

class TempDir {
public:
    TempDir() {
        std::string tmpl = "/tmp/splicefs-unit.XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr)
            throw std::system_error(errno, std::generic_category(), "mkdtemp");
        path_ = tmpl;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    std::filesystem::path make(const std::string& rel) const {
        auto p = path_ / rel;
        std::filesystem::create_directories(p);
        return p;
    }

private:
    std::filesystem::path path_;
};

class DetachOnExit {
public:
    explicit DetachOnExit(std::filesystem::path p) : path_(std::move(p)) {}
    DetachOnExit(const DetachOnExit&) = delete;
    DetachOnExit& operator=(const DetachOnExit&) = delete;
    ~DetachOnExit() {
        // Repeat: a test may have stacked several mounts; stops at the first failure.
        for (int i = 0; i < 4 && ::umount2(path_.c_str(), MNT_DETACH) == 0; ++i) {
        }
    }

private:
    std::filesystem::path path_;
};

}  // namespace splicefs::testing
