#pragma once
// Acting as the caller while creating files, so that new files, directories, symlinks and
// nodes belong to the caller (and inherit a setgid directory's group) exactly as if the
// caller had created them on the backing directory.
//
// Credentials are per thread in the kernel, but glibc's setfsuid/setgroups wrappers change
// every thread of the process. Raw syscalls change only the calling worker thread.
#include <fuse_lowlevel.h>

namespace splicefs::fs {

class Fs;

class CallerCredentials {
public:
    enum class Umask { Keep, Caller };

    // Reshaping (fs/reshape.hpp): create as this owner and group instead of the caller's, with
    // the caller's supplementary groups; override_dac lets the backing skip its permission
    // checks, which the kernel already made against the attributes it was shown.
    struct Identity {
        uid_t uid;
        gid_t gid;
        bool override_dac;
    };

    // Switches fsuid, fsgid and supplementary groups to the caller's when the daemon runs as
    // root and the caller is someone else. With Umask::Caller the worker thread also takes the
    // caller's umask, which the kernel leaves to us (FUSE_CAP_DONT_MASK) so that the backing
    // fs can apply a default ACL instead of the umask, as it would for the caller.
    CallerCredentials(const Fs& fs, fuse_req_t req, Umask umask = Umask::Keep, const Identity* as = nullptr);
    ~CallerCredentials();
    CallerCredentials(const CallerCredentials&) = delete;
    CallerCredentials& operator=(const CallerCredentials&) = delete;

    // errno of a failed switch (the request must then fail), 0 otherwise.
    [[nodiscard]] int error() const noexcept { return error_; }

private:
    const Fs& fs_;
    bool switched_ = false;
    int error_ = 0;
};

// Drops the set-id bits of the regular file open at fd (any fd, O_PATH included) as a write or
// truncate by the caller would natively: set-uid always, set-gid when group-executable or the
// caller is not in the file's group. Nothing for uid 0, which stands for CAP_FSETID (FUSE
// passes no capabilities); one fstat when there is something to check.
void clear_set_id_bits(fuse_req_t req, int fd);

}  // namespace splicefs::fs
