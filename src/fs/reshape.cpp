#include "fs/reshape.hpp"

#include <fcntl.h>

#include <cerrno>

#include "fs/filesystem.hpp"

namespace splicefs::fs {

namespace {
constexpr mode_t kSetId = S_ISUID | S_ISGID;

int backing_stat(const InodeRef& inode, struct stat& st) {
    return ::fstatat(inode.fd(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
}
// --chmod-policy, --chmod-filter and --chmod-allow-x, as bindfs: with allow-x, ignore keeps only
// the execute bits a chmod of a regular file flips, and deny lets a chmod through that flips
// nothing else (both compared with the backing mode).
int chmod_policy(const Reshape& r, const InodeRef& inode, struct stat& attr, int& to_set) {
    if (r.chmod == ChangePolicy::Normal) {
        attr.st_mode = r.chmod_filter.apply(attr.st_mode);
        return 0;
    }
    if (r.chmod_allow_x) {
        struct stat st {};
        if (const int err = backing_stat(inode, st); err != 0) return err;
        if (S_ISREG(st.st_mode)) {
            const mode_t diff = (st.st_mode ^ attr.st_mode) & 07777;
            if (r.chmod == ChangePolicy::Ignore) {
                attr.st_mode = st.st_mode ^ (diff & 0111);
                return 0;
            }
            return (diff & 07666) == 0 ? 0 : EPERM;
        }
    }
    if (r.chmod == ChangePolicy::Deny) return EPERM;
    to_set &= ~FUSE_SET_ATTR_MODE;
    return 0;
}

}  // namespace

int reshape_attr(const Fs& fs, fuse_req_t req, struct stat& st) {
    return fs.config.reshape.show(st, fuse_req_ctx(req)->uid) ? 0 : EIO;
}

int reshape_entry(Fs& fs, fuse_req_t req, fuse_entry_param& e) {
    const int err = reshape_attr(fs, req, e.attr);
    if (err != 0) fs.forget(e.ino, 1);
    return err;
}

int reshape_setattr(const Fs& fs, fuse_req_t req, const InodeRef& inode, struct stat& attr, int& to_set) {
    const Reshape& r = fs.config.reshape;
    const fuse_ctx* ctx = fuse_req_ctx(req);
    const bool root = ctx->uid == 0;

    if ((to_set & FUSE_SET_ATTR_MODE) != 0) {
        if (const int err = chmod_policy(r, inode, attr, to_set); err != 0) return err;
        if ((to_set & FUSE_SET_ATTR_MODE) != 0 && !root && (attr.st_mode & kSetId) != 0) {
            // The kernel let an owner it was shown through; the daemon chmods as root. Only
            // the real owner of the backing file gets setuid/setgid bits on it.
            struct stat st {};
            if (const int err = backing_stat(inode, st); err != 0) return err;
            if (!S_ISDIR(st.st_mode) && st.st_uid != ctx->uid) attr.st_mode &= ~kSetId;
        }
    }

    if ((to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) != 0) {
        std::uint32_t uid = (to_set & FUSE_SET_ATTR_UID) != 0 ? attr.st_uid : Reshape::kKeep;
        std::uint32_t gid = (to_set & FUSE_SET_ATTR_GID) != 0 ? attr.st_gid : Reshape::kKeep;
        if (uid != Reshape::kKeep && r.chown == ChangePolicy::Deny) return EPERM;
        if (gid != Reshape::kKeep && r.chgrp == ChangePolicy::Deny) return EPERM;
        if (!root) {
            // The kernel lets a caller without CAP_CHOWN keep only the owner it was shown, and
            // the group it was shown or one of its own: keeping what is shown changes nothing on
            // the backing (with --force-user or --mirror the backing owner is someone else).
            uid = Reshape::kKeep;
            if (gid != Reshape::kKeep) {
                struct stat st {};
                if (const int err = backing_stat(inode, st); err != 0) return err;
                if (reshape_attr(fs, req, st) == 0 && st.st_gid == gid) gid = Reshape::kKeep;
            }
        }
        const auto ids = r.backing_chown(uid, gid);
        if (ids.error != 0) return ids.error;
        to_set &= ~(FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID);
        if (ids.uid != Reshape::kKeep) {
            to_set |= FUSE_SET_ATTR_UID;
            attr.st_uid = ids.uid;
        }
        if (ids.gid != Reshape::kKeep) {
            to_set |= FUSE_SET_ATTR_GID;
            attr.st_gid = ids.gid;
        }
    }
    return 0;
}

Creation reshape_creation(const Fs& fs, fuse_req_t req, mode_t mode) {
    const Reshape& r = fs.config.reshape;
    const fuse_ctx* ctx = fuse_req_ctx(req);
    const auto owner = r.create_owner(ctx->uid, ctx->gid);
    if (owner.error != 0) return {owner.error, {}, mode};
    mode = r.create_mode(mode);
    // A setuid/setgid file for someone else (root included) is never made for a non-root caller.
    if (!S_ISDIR(mode) && ctx->uid != 0 && (owner.uid != ctx->uid || owner.gid != ctx->gid)) mode &= ~kSetId;
    // The kernel checked the caller against the parent it was shown; the backing would check
    // the new owner, whom the options name, or ids the caller does not have.
    const bool other = owner.uid != ctx->uid || owner.gid != ctx->gid;
    return {0, {owner.uid, owner.gid, other || r.changes_attributes()}, mode};
}

}  // namespace splicefs::fs
