#include "fs/credentials.hpp"

#include <linux/capability.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fcntl.h>
#include <algorithm>
#include <array>
#include <cerrno>

#include "fs/filesystem.hpp"

namespace splicefs::fs {

namespace {
constexpr int kMaxGroups = 256;

long raw_setgroups(std::size_t n, const gid_t* groups) {
    return ::syscall(SYS_setgroups, n, groups);
}
// setfsuid/setfsgid return the previous id and cannot report failure directly; a second
// call with -1 reads back the id in force.
bool raw_setfsuid(uid_t uid) {
    ::syscall(SYS_setfsuid, uid);
    return static_cast<uid_t>(::syscall(SYS_setfsuid, static_cast<uid_t>(-1))) == uid;
}
bool raw_setfsgid(gid_t gid) {
    ::syscall(SYS_setfsgid, gid);
    return static_cast<gid_t>(::syscall(SYS_setfsgid, static_cast<gid_t>(-1))) == gid;
}

// Capabilities are per thread too: raising CAP_DAC_OVERRIDE again after setfsuid() dropped it
// (it stays permitted) changes only this worker; setfsuid(0) restores the rest on the way back.
bool raise_dac_override() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    std::array<__user_cap_data_struct, 2> data{};
    if (::syscall(SYS_capget, &header, data.data()) != 0) return false;
    data[0].effective |= 1U << CAP_DAC_OVERRIDE;
    return ::syscall(SYS_capset, &header, data.data()) == 0;
}

// The umask belongs to the fs_struct that threads share; a worker that unshares it once can
// then set its own umask per request.
bool thread_has_own_umask() {
    thread_local const bool own = ::unshare(CLONE_FS) == 0;
    return own;
}

// The worker's umask is left at the last caller's: only creating ops read it and each of them
// sets it first (kernel_leaves_umask does not change while mounted), so a request from the
// same caller as the last one makes no umask() call at all.
void set_thread_umask(mode_t mask) {
    thread_local mode_t current = 0;  // make_fs() set 0 before any worker unshared it
    if (mask == current) return;
    ::umask(mask);
    current = mask;
}
}  // namespace

CallerCredentials::CallerCredentials(const Fs& fs, fuse_req_t req, Umask umask, const Identity* as)
    : fs_(fs) {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    if (umask == Umask::Caller && fs.kernel_leaves_umask.load(std::memory_order_relaxed) &&
        thread_has_own_umask()) {
        set_thread_umask(ctx->umask);
    }
    const uid_t uid = as != nullptr ? as->uid : ctx->uid;
    const gid_t gid = as != nullptr ? as->gid : ctx->gid;
    if (!fs.daemon_is_root || (uid == 0 && gid == 0)) return;

    // FUSE passes no supplementary groups; libfuse reads them from /proc/PID/status.
    std::array<gid_t, kMaxGroups> groups{};
    int n = fuse_req_getgroups(req, kMaxGroups, groups.data());
    if (n < 0 || n > kMaxGroups) n = 0;  // caller gone or too many: primary group only

    switched_ = true;
    if (raw_setgroups(static_cast<std::size_t>(n), groups.data()) != 0 || !raw_setfsgid(gid) ||
        !raw_setfsuid(uid) || (as != nullptr && as->override_dac && uid != 0 && !raise_dac_override())) {
        error_ = errno != 0 ? errno : EPERM;
    }
}

CallerCredentials::~CallerCredentials() {
    if (!switched_) return;
    raw_setfsuid(0);
    raw_setfsgid(0);
    raw_setgroups(fs_.daemon_groups.size(), fs_.daemon_groups.data());
}

namespace {
bool caller_in_group(fuse_req_t req, gid_t gid) {
    if (fuse_req_ctx(req)->gid == gid) return true;
    std::array<gid_t, kMaxGroups> groups{};
    const int n = fuse_req_getgroups(req, static_cast<int>(groups.size()), groups.data());
    const auto end = groups.begin() + std::clamp(n, 0, static_cast<int>(groups.size()));
    return std::find(groups.begin(), end, gid) != end;
}
}  // namespace

void clear_set_id_bits(fuse_req_t req, int fd) {
    if (fuse_req_ctx(req)->uid == 0) return;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & (S_ISUID | S_ISGID)) == 0) return;
    mode_t mode = st.st_mode & 07777 & ~static_cast<mode_t>(S_ISUID);
    if ((st.st_mode & S_ISGID) != 0 && ((st.st_mode & S_IXGRP) != 0 || !caller_in_group(req, st.st_gid)))
        mode &= ~static_cast<mode_t>(S_ISGID);
    // Through /proc: fchmod refuses O_PATH fds.
    if (mode != (st.st_mode & 07777)) (void)::fchmodat(AT_FDCWD, proc_fd_path(fd).c_str(), mode, 0);
}

}  // namespace splicefs::fs
