#pragma once
// Every operation implementation, grouped by translation unit. Each takes the Fs and the
// request, replies itself on success and returns 0, or returns an errno that the single
// boundary in ops_table.cpp turns into fuse_reply_err().
#include <fuse_lowlevel.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace splicefs::fs {
class Fs;
}

namespace splicefs::fs::ops {

// ops_entry.cpp: names to inodes, attributes.
int lookup(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name);
int forget(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::uint64_t nlookup);
int forget_multi(Fs& fs, fuse_req_t req, std::size_t count, fuse_forget_data* forgets);
int getattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
int setattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi);
int readlink(Fs& fs, fuse_req_t req, fuse_ino_t ino);
int access(Fs& fs, fuse_req_t req, fuse_ino_t ino, int mask);

// ops_namespace.cpp: creating, linking, renaming and removing names.
int mknod(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
int mkdir(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode);
int symlink(Fs& fs, fuse_req_t req, const char* link, fuse_ino_t parent, const char* name);
int link(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname);
int unlink(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name);
int rmdir(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name);
int rename(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
           const char* newname, unsigned int flags);

// ops_dir.cpp: directory handles and listings.
int opendir(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
int readdir(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::size_t size, off_t off, fuse_file_info* fi);
int readdirplus(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::size_t size, off_t off, fuse_file_info* fi);
// READDIR(PLUS)'s listing of the handle in fi from offset off, into buf (resized to the bytes
// used), without the reply. The listing state is made on first use (dir_cursors.hpp).
int fill_listing(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::size_t size, off_t off,
                 const fuse_file_info* fi, bool plus, std::vector<char>& buf);
int releasedir(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
int fsyncdir(Fs& fs, fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);

// ops_data.cpp: file handles and the data path.
int open(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
int create(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi);
int read(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::size_t size, off_t off, fuse_file_info* fi);
int write_buf(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_bufvec* bufv, off_t off, fuse_file_info* fi);
int flush(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
int release(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
int fsync(Fs& fs, fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);
int fallocate(Fs& fs, fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
              fuse_file_info* fi);
int copy_file_range(Fs& fs, fuse_req_t req, fuse_ino_t ino_in, off_t off_in, fuse_file_info* fi_in,
                    fuse_ino_t ino_out, off_t off_out, fuse_file_info* fi_out, std::size_t len, int flags);
int lseek(Fs& fs, fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi);

// ops_locks.cpp: BSD locks are forwarded to the backing file.
int flock(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int op);

// ops_xattr.cpp: extended attributes (and the read-only statistics attribute on the root).
int setxattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, std::size_t size,
             int flags);
int getxattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, const char* name, std::size_t size);
int listxattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::size_t size);
int removexattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, const char* name);

// ops_fs.cpp: filesystem-wide.
void init(Fs& fs, fuse_conn_info* conn);
int statfs(Fs& fs, fuse_req_t req, fuse_ino_t ino);

}  // namespace splicefs::fs::ops
