// Open flag matrix: access modes x creation flags x file modes, as an unprivileged owner
// (root bypasses the mode bits), plus O_DIRECTORY, O_NOFOLLOW, O_TMPFILE and O_DIRECT.
#include <unistd.h>

#include "scenario.hpp"

namespace posixtest {
namespace {

constexpr int kAccModes[] = {O_RDONLY, O_WRONLY, O_RDWR};
constexpr int kExtras[] = {0,        O_CREAT,           O_CREAT | O_EXCL,   O_TRUNC,
                           O_APPEND, O_CREAT | O_TRUNC, O_CREAT | O_APPEND, O_TRUNC | O_APPEND};

// For one file mode: the owner (uid 1001) opens an existing file and a fresh name with every
// access mode and flag combination, writing and reading through what it got.
void matrix(Recorder& r, mode_t mode, const Cred* who) {
    r.mkdir("u", 0755);
    r.chown("u", 1001, 1001);
    int i = 0;
    for (const int acc : kAccModes) {
        for (const int extra : kExtras) {
            const std::string existing = "u/e" + std::to_string(i);
            const std::string fresh = "u/n" + std::to_string(i);
            ++i;
            make_file(r, existing, "hello world", mode);
            r.chown(existing, 1001, 1001);
            auto body = [&](Recorder& c) {
                for (const std::string& name : {existing, fresh}) {
                    const int h = c.open(name, acc | extra, mode);
                    if (c.ok(h)) {
                        c.write(h, "XY");
                        c.pread(h, 64, 0);
                        c.fstat(h);
                        c.close(h);
                    }
                    c.stat(name);
                }
            };
            if (who != nullptr) {
                r.as(*who, body);
            } else {
                body(r);
            }
            r.cat(existing);
        }
    }
}

}  // namespace

SCENARIO(open, matrix_0600_user) {
    matrix(r, 0600, &kUser1);
}
SCENARIO(open, matrix_0400_user) {
    matrix(r, 0400, &kUser1);
}
SCENARIO(open, matrix_0200_user) {
    matrix(r, 0200, &kUser1);
}
SCENARIO(open, matrix_0000_user) {
    matrix(r, 0000, &kUser1);
}
SCENARIO(open, matrix_0644_other_user) {
    matrix(r, 0644, &kUser2);
}
SCENARIO(open, matrix_0000_root) {
    matrix(r, 0000, nullptr);
}

SCENARIO(open, directory_flag) {
    r.mkdir("d");
    make_file(r, "f", "data");
    r.symlink("d", "ld");
    for (const int flags : {O_RDONLY | O_DIRECTORY, O_WRONLY, O_RDWR, O_RDONLY | O_CREAT,
                            O_WRONLY | O_DIRECTORY, O_RDONLY | O_DIRECTORY | O_CREAT}) {
        for (const char* name : {"d", "f", "ld", "missing"}) {
            const int h = r.open(name, flags, 0644);
            if (r.ok(h)) {
                r.fstat(h);
                r.close(h);
            }
        }
    }
    r.listdir("");
}

SCENARIO(open, nofollow) {
    make_file(r, "f", "data");
    r.symlink("f", "lf");
    r.symlink("missing", "dangling");
    r.mkdir("d");
    r.symlink("d", "ld");
    for (const char* name : {"f", "lf", "dangling", "ld", "ld/x"}) {
        for (const int flags : {O_RDONLY | O_NOFOLLOW, O_WRONLY | O_NOFOLLOW | O_CREAT,
                                O_RDONLY | O_NOFOLLOW | O_DIRECTORY, O_WRONLY | O_CREAT}) {
            const int h = r.open(name, flags, 0600);
            if (r.ok(h)) {
                r.fstat(h);
                r.close(h);
            }
        }
    }
    r.lstat("dangling");
    r.stat("missing");  // created through the dangling link
    r.listdir("");
}

SCENARIO(open, tmpfile) {
    r.mkdir("d");
    r.begin_known("KD-TMPFILE");
    const int h = r.open("d", O_TMPFILE | O_RDWR, 0600);
    r.write(h, "anonymous");
    r.pread(h, 64, 0);
    r.fstat(h);
    r.close(h);
    r.end_known();
    r.listdir("d");
    r.open("f", O_TMPFILE | O_RDWR, 0600);  // not a directory, on both sides
}

SCENARIO(open, direct_aligned) {
    const int h = r.open("f", O_RDWR | O_CREAT | O_DIRECT, 0644);
    r.direct_pwrite(h, 4096, 0, 'a');
    r.direct_pwrite(h, 8192, 4096, 'b');
    r.direct_pwrite(h, 65536, 1 << 20, 'c');
    r.direct_pread(h, 16384, 0);
    r.direct_pread(h, 65536, 1 << 20);
    r.direct_pread(h, 4096, 4 << 20);
    r.fstat(h);
    r.close(h);
    r.cat("f");
    // A buffered reader sees what the direct writer wrote.
    const int b = r.open("f", O_RDONLY);
    r.pread(b, 100, 4090);
    r.close(b);
}

SCENARIO(open, direct_unaligned) {
    make_file(r, "f", pattern(10000));
    const int h = r.open("f", O_RDWR | O_DIRECT);
    r.begin_known("KD-ODIRECT-ALIGN");
    r.pwrite(h, "unaligned", 3);
    r.pread(h, 100, 1);
    r.end_known();
    r.close(h);
    make_file(r, "f", "reset");  // the two sides may differ in content after the known step
}

SCENARIO(open, create_modes_umask) {
    for (const mode_t m : std::initializer_list<mode_t>{0777, 0666, 0640, 0400, 0000, 01777, 04755}) {
        const std::string name = "f" + std::to_string(m);
        const int h = r.open(name, O_CREAT | O_WRONLY | O_EXCL, m);
        r.fstat(h);
        r.close(h);
        r.stat(name);
        const std::string dir = "d" + std::to_string(m);
        r.mkdir(dir, m);
        r.stat(dir);
    }
}

SCENARIO(open, read_write_basics) {
    // libfuse passthrough: open/read/write, create, append, seek.
    const int h = r.open("f", O_RDWR | O_CREAT | O_EXCL, 0644);
    r.write(h, "hello ");
    r.write(h, "world");
    r.lseek(h, 0, SEEK_SET);
    r.read(h, 100);
    r.read(h, 100);
    r.lseek(h, 3, SEEK_SET);
    r.write(h, "P");
    r.lseek(h, 0, SEEK_CUR);
    r.lseek(h, 0, SEEK_END);
    r.lseek(h, -2, SEEK_END);
    r.lseek(h, -100, SEEK_SET);
    r.fstat(h);
    r.close(h);
    r.cat("f");
    const int a = r.open("f", O_WRONLY | O_APPEND);
    r.write(a, "!!");
    r.lseek(a, 0, SEEK_SET);
    r.write(a, "??");
    r.pwrite(a, "at0", 0);  // Linux appends despite the offset with O_APPEND
    r.close(a);
    r.cat("f");
    r.open("f", O_RDONLY | O_CREAT | O_EXCL, 0644);
    const int ro = r.open("f", O_RDONLY);
    r.write(ro, "no");
    r.close(ro);
    const int wo = r.open("f", O_WRONLY);
    r.read(wo, 10);
    r.close(wo);
    r.close(wo);  // EBADF on both sides
}

SCENARIO(open, sizes_around_pages) {
    // Sizes around page and request boundaries: the splice and copy paths differ here.
    const std::size_t sizes[] = {
        0, 1, 4095, 4096, 4097, 8191, 8192, 65537, 131072, 131073, 1048576, 1048576 + 13, 3 * 1048576 + 4095};
    unsigned seed = 1;
    for (const auto n : sizes) {
        const std::string name = "f" + std::to_string(n);
        const int h = r.open(name, O_RDWR | O_CREAT, 0644);
        r.write(h, pattern(n, seed++));
        r.pread(h, n + 10, 0);
        r.pread(h, 5000, static_cast<off_t>(n / 2));
        r.fstat(h);
        r.close(h);
        r.cat(name);
    }
}

}  // namespace posixtest
