// Permission checks by the kernel (default_permissions) for unprivileged users: files,
// directories, sticky directories, supplementary groups, EACCES versus EPERM.
#include <unistd.h>

#include "scenario.hpp"

namespace posixtest {

SCENARIO(perms, file_rwx_classes) {
    // Owner 1001, group 3000 (user 1002 is a member, 1003 is not).
    const mode_t modes[] = {0700, 0070, 0007, 0640, 0604, 0460, 0111, 0750};
    int i = 0;
    for (const mode_t m : modes) {
        const std::string f = "f" + std::to_string(i++);
        make_file(r, f, "#!/bin/true\n", m);
        r.chown(f, 1001, kSharedGroup);
        r.chmod(f, m);
        for (const Cred* who : {&kUser1, &kUser2, &kUser3}) {
            r.as(*who, [&](Recorder& c) {
                c.access(f, R_OK);
                c.access(f, W_OK);
                c.access(f, X_OK);
                c.access(f, R_OK | W_OK);
                const int h = c.open(f, O_RDONLY);
                c.close(h);
                const int w = c.open(f, O_WRONLY);
                c.close(w);
                c.truncate(f, 12);
            });
        }
    }
}

SCENARIO(perms, directory_bits) {
    for (const mode_t m : std::initializer_list<mode_t>{0700, 0500, 0300, 0100, 0400, 0000}) {
        const std::string d = "d" + std::to_string(m);
        r.mkdir(d, 0755);
        make_file(r, d + "/inside", "x", 0666);
        r.chown(d, 1001, 1001);
        r.chmod(d, m);
        r.as(kUser1, [&](Recorder& c) {
            c.listdir(d);
            c.stat(d + "/inside");
            c.cat(d + "/inside");
            const int h = c.open(d + "/new", O_CREAT | O_WRONLY, 0644);
            c.close(h);
            c.unlink(d + "/inside");
            c.mkdir(d + "/sub");
            c.rename(d + "/new", d + "/renamed");
            c.access(d, W_OK | X_OK);
        });
        r.as(kUser2, [&](Recorder& c) {
            c.listdir(d);
            c.stat(d + "/inside");
        });
        r.chmod(d, 0755);
        r.listdir(d);
    }
}

SCENARIO(perms, sticky_directory) {
    r.mkdir("tmp", 0777);
    r.chmod("tmp", 01777);
    r.as(kUser1, [](Recorder& c) {
        const int h = c.open("tmp/mine", O_CREAT | O_WRONLY, 0666);
        c.close(h);
        c.chmod("tmp/mine", 0666);
        c.mkdir("tmp/mydir", 0777);
        c.chmod("tmp/mydir", 0777);
    });
    r.as(kUser2, [](Recorder& c) {
        c.unlink("tmp/mine");                        // EPERM: sticky
        c.rename("tmp/mine", "tmp/stolen");          // EPERM
        c.rmdir("tmp/mydir");                        // EPERM
        const int h = c.open("tmp/mine", O_WRONLY);  // writing is still allowed
        c.write(h, "hi");
        c.close(h);
        const int o = c.open("tmp/other", O_CREAT | O_WRONLY, 0644);
        c.close(o);
        c.rename("tmp/other", "tmp/mine");  // EPERM: would replace 1001's file
    });
    r.as(kUser1, [](Recorder& c) {
        c.unlink("tmp/other");  // EPERM: not ours
        c.rename("tmp/mine", "tmp/mine2");
    });
    r.unlink("tmp/other");  // root may
    r.chown("tmp", 1002, 1002);
    r.as(kUser2, [](Recorder& c) { c.unlink("tmp/mine2"); });  // the directory owner may
    r.listdir("tmp");
    r.stat("tmp");
}

SCENARIO(perms, eacces_versus_eperm) {
    make_file(r, "f", "x", 0600);
    r.mkdir("d", 0755);
    r.as(kUser1, [](Recorder& c) {
        c.open("f", O_RDONLY);  // EACCES
        c.chmod("f", 0777);     // EPERM
        c.unlink("f");          // EACCES: no write on the directory
        c.mkdir("d/x");         // EACCES
        c.rmdir("d");           // EACCES
        c.link("f", "d/l");     // EACCES (or EPERM with protected_hardlinks)
        c.symlink("f", "d/s");  // EACCES
        c.rename("d", "e");     // EACCES
        c.mknod("d/p", S_IFIFO | 0644);
        c.setxattr("f", "user.a", "b");     // EACCES
        c.setxattr("f", "trusted.a", "b");  // EPERM
        c.truncate("f", 0);                 // EACCES
    });
    r.stat("f");
    r.listdir("");
}

SCENARIO(perms, create_ownership) {
    // Files created by a user belong to that user and their group (or the set-gid dir's group).
    r.mkdir("open", 0777);
    r.chmod("open", 0777);
    r.mkdir("sgid", 0777);
    r.chown("sgid", 0, kSharedGroup);
    r.chmod("sgid", 02777);
    r.as(kUser1, [](Recorder& c) {
        const int h = c.open("open/f", O_CREAT | O_WRONLY, 0644);
        c.fstat(h);
        c.close(h);
        c.mkdir("open/d", 0755);
        c.stat("open/d");
        c.symlink("f", "open/l");
        c.lstat("open/l");
        c.mknod("open/p", S_IFIFO | 0600);
        c.stat("open/p");
        const int g = c.open("sgid/f", O_CREAT | O_WRONLY, 02755);
        c.fstat(g);  // group from the directory; set-gid dropped (1001 is in 3000: kept)
        c.close(g);
        c.mkdir("sgid/d", 0755);
        c.stat("sgid/d");  // inherits set-gid
    });
    r.as(kUser3, [](Recorder& c) {
        const int g = c.open("sgid/g", O_CREAT | O_WRONLY, 02755);
        c.fstat(g);  // not in group 3000: set-gid cleared on create
        c.close(g);
    });
    r.listdir("open");
}

SCENARIO(perms, search_through_paths) {
    r.mkdir("a", 0755);
    r.mkdir("a/b", 0755);
    make_file(r, "a/b/f", "deep", 0644);
    r.chmod("a", 0700);
    r.as(kUser1, [](Recorder& c) {
        c.stat("a/b/f");
        c.cat("a/b/f");
        c.access("a/b", F_OK);
    });
    r.chmod("a", 0711);
    r.as(kUser1, [](Recorder& c) {
        c.stat("a/b/f");
        c.cat("a/b/f");
        c.listdir("a");
        c.listdir("a/b");
    });
}

}  // namespace posixtest
