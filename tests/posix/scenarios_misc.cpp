// Locks between processes, special files, directory listings (big, long names, modified
// while read).
#include <dirent.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <map>
#include <set>

#include "scenario.hpp"

namespace posixtest {

SCENARIO(locks, flock_two_processes) {
    make_file(r, "f", "x");
    r.with_child(
        [](Recorder& c) {
            const int h = c.open("f", O_RDONLY);
            c.flock(h, LOCK_EX | LOCK_NB);
        },
        [](Recorder& p) {
            const int h = p.open("f", O_RDONLY);
            p.flock(h, LOCK_EX | LOCK_NB);  // EWOULDBLOCK
            p.flock(h, LOCK_SH | LOCK_NB);  // EWOULDBLOCK
            p.close(h);
        });
    r.with_child(
        [](Recorder& c) {
            const int h = c.open("f", O_RDONLY);
            c.flock(h, LOCK_SH | LOCK_NB);
        },
        [](Recorder& p) {
            const int h = p.open("f", O_RDONLY);
            p.flock(h, LOCK_SH | LOCK_NB);  // shared with shared: fine
            p.flock(h, LOCK_EX | LOCK_NB);  // EWOULDBLOCK
            p.flock(h, LOCK_UN);
            p.close(h);
        });
    const int h = r.open("f", O_RDONLY);
    r.flock(h, LOCK_EX | LOCK_NB);  // the child is gone: its lock went with it
    r.flock(h, LOCK_UN);
    r.close(h);
}

SCENARIO(locks, fcntl_record_locks) {
    make_file(r, "f", pattern(1000));
    r.with_child(
        [](Recorder& c) {
            const int h = c.open("f", O_RDWR);
            c.fcntl_lock(h, F_SETLK, F_WRLCK, 0, 100);
            c.fcntl_lock(h, F_SETLK, F_RDLCK, 200, 100);
        },
        [](Recorder& p) {
            const int h = p.open("f", O_RDWR);
            p.fcntl_getlk(h, F_WRLCK, 0, 10);
            p.fcntl_getlk(h, F_RDLCK, 250, 10);
            p.fcntl_getlk(h, F_WRLCK, 250, 10);
            p.fcntl_getlk(h, F_WRLCK, 100, 100);
            p.fcntl_lock(h, F_SETLK, F_WRLCK, 50, 10);    // EAGAIN
            p.fcntl_lock(h, F_SETLK, F_RDLCK, 50, 10);    // EAGAIN
            p.fcntl_lock(h, F_SETLK, F_RDLCK, 210, 10);   // shared: fine
            p.fcntl_lock(h, F_SETLK, F_WRLCK, 210, 10);   // EAGAIN
            p.fcntl_lock(h, F_SETLK, F_WRLCK, 100, 100);  // the gap: fine
            p.fcntl_lock(h, F_SETLK, F_UNLCK, 0, 0);
            p.fcntl_lock(h, F_OFD_SETLK, F_WRLCK, 0, 10);  // EAGAIN
            p.close(h);
        });
    const int h = r.open("f", O_RDWR);
    r.fcntl_getlk(h, F_WRLCK, 0, 0);
    r.fcntl_lock(h, F_SETLK, F_WRLCK, 0, 0);
    const int ro = r.open("f", O_RDONLY);
    r.fcntl_lock(ro, F_SETLK, F_WRLCK, 0, 10);  // EBADF: write lock on a read-only fd
    r.close(ro);
    r.close(h);
}

SCENARIO(special, fifos_and_sockets) {
    r.mknod("fifo", S_IFIFO | 0640);
    r.mknod("sock", S_IFSOCK | 0600);
    r.mknod("reg", S_IFREG | 0644);
    r.mknod("chr", S_IFCHR | 0600, makedev(1, 3));
    r.lstat("fifo");
    r.lstat("sock");
    r.lstat("reg");
    r.lstat("chr");
    r.mknod("fifo", S_IFIFO | 0600);  // EEXIST
    r.mknod("bad", 0170000 | 0644);   // EINVAL
    const int rd = r.open("fifo", O_RDONLY | O_NONBLOCK);
    const int wr = r.open("fifo", O_WRONLY | O_NONBLOCK);
    r.write(wr, "through the pipe");
    r.read(rd, 100);
    r.close(wr);
    r.close(rd);
    r.open("fifo", O_WRONLY | O_NONBLOCK);  // ENXIO: no reader
    r.open("sock", O_RDONLY);               // ENXIO
    r.listdir("");
    r.as(kUser1, [](Recorder& c) { c.mknod("chr2", S_IFCHR | 0600, makedev(1, 3)); });  // EPERM
    // A unix socket bound inside the tree: connecting goes to the socket, not to the file.
    const std::string path = r.path("bound");
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const bool fits = path.size() < sizeof addr.sun_path;
    if (fits) path.copy(addr.sun_path, path.size());
    const int b = fits ? ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) : -1;
    r.note("bind(bound)", b == 0 ? "0" : "-1 " + errname(errno));
    ::close(s);
    r.lstat("bound");
}

SCENARIO(readdir, listing_with_inodes) {
    // libfuse passthrough: directory listing (d_ino equals st_ino, checked by listdir).
    make_file(r, "file", "x");
    r.mkdir("dir");
    r.symlink("file", "link");
    r.mknod("fifo", S_IFIFO | 0644);
    r.link("file", "hard");
    r.listdir("");
    r.listdir("dir");
    r.listdir("file");
    r.listdir("missing");
    r.same_file("file", "hard");
}

SCENARIO(readdir, five_hundred_long_names) {
    // libfuse passthrough: 500-entry listing with long names.
    for (int i = 0; i < 500; ++i) {
        const std::string base = std::string(200, static_cast<char>('a' + i % 26)) + "_" + std::to_string(i);
        const int h = r.open(base, O_CREAT | O_WRONLY, 0644);
        r.close(h);
    }
    r.listdir("");
    for (int i = 0; i < 500; i += 7) {
        r.unlink(std::string(200, static_cast<char>('a' + i % 26)) + "_" + std::to_string(i));
    }
    r.listdir("");
}

// 10,000 entries read with getdents in small batches while other names come and go: every
// name that existed throughout must be returned exactly once.
SCENARIO(readdir, ten_thousand_while_modified) {
    r.mkdir("big");
    constexpr int kStable = 10000;
    int created = 0;
    for (int i = 0; i < kStable; ++i) {
        const int fd =
            ::open(r.path("big/s" + std::to_string(i)).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ++created;
            ::close(fd);
        }
    }
    r.note("create 10000 stable names", std::to_string(created));
    DIR* d = ::opendir(r.path("big").c_str());
    std::map<std::string, int> seen;
    int churn = 0;
    int errors = 0;
    if (d != nullptr) {
        int n = 0;
        errno = 0;
        while (const dirent* e = ::readdir(d)) {
            ++seen[e->d_name];
            if (++n % 50 == 0) {  // modify the directory while the listing is under way
                const std::string t = r.path("big/t" + std::to_string(churn++));
                const int fd = ::open(t.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
                if (fd >= 0) ::close(fd);
                if (churn > 2 && ::unlink(r.path("big/t" + std::to_string(churn - 3)).c_str()) != 0) ++errors;
                if (::unlink(r.path("big/s" + std::to_string(kStable + churn)).c_str()) == 0) ++errors;
            }
        }
        ::closedir(d);
    }
    int missing = 0;
    int duplicated = 0;
    for (int i = 0; i < kStable; ++i) {
        const auto it = seen.find("s" + std::to_string(i));
        if (it == seen.end()) {
            ++missing;
        } else if (it->second > 1) {
            ++duplicated;
        }
    }
    int dup_other = 0;
    for (const auto& [name, count] : seen) {
        if (count > 1) ++dup_other;
    }
    r.note("readdir(big) while modified",
           d == nullptr ? "opendir failed"
                        : "missing=" + std::to_string(missing) + " duplicated=" + std::to_string(duplicated) +
                              " dup_any=" + std::to_string(dup_other) + " errors=" + std::to_string(errors) +
                              " dots=" + std::to_string(seen["."] + seen[".."]));
}

}  // namespace posixtest

namespace posixtest {

SCENARIO(readdir, directory_lseek) {
    r.mkdir("d");
    for (int i = 0; i < 20; ++i) make_file(r, "d/f" + std::to_string(i), "x");
    const int h = r.open("d", O_RDONLY | O_DIRECTORY);
    r.lseek(h, 0, SEEK_SET);
    r.lseek(h, 0, SEEK_CUR);
    r.begin_known("KD-DIR-LSEEK");
    r.lseek(h, 100, SEEK_END);  // ext4: EINVAL (hash offsets); FUSE: generic_file_llseek
    r.lseek(h, 0, SEEK_DATA);
    r.end_known();
    r.lseek(h, 0, SEEK_SET);
    r.read(h, 10);  // EISDIR
    r.close(h);
    r.listdir("d");
}

}  // namespace posixtest
