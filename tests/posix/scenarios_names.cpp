// Namespace operations: create/unlink/mkdir/rmdir errors, name lengths, symlink loops, paths
// through files, rename in all its forms, hard links.
#include <linux/fs.h>
#include <stdio.h>

#include "scenario.hpp"

namespace posixtest {

SCENARIO(names, create_unlink) {
    // libfuse passthrough: create, unlink, mkdir, rmdir.
    make_file(r, "f", "x");
    r.stat("f");
    r.unlink("f");
    r.stat("f");
    r.unlink("f");
    r.mkdir("d");
    r.stat("d");
    r.stat("");
    r.rmdir("d");
    r.stat("d");
    r.rmdir("d");
    r.stat("");
    r.listdir("");
}

SCENARIO(names, unlink_and_rmdir_errors) {
    r.mkdir("d");
    make_file(r, "d/f", "x");
    r.mkdir("e");
    r.mkdir("e/sub");
    r.rmdir("d");
    r.rmdir("e");
    r.unlink("d");
    r.rmdir("d/f");
    r.unlink("d/f/x");
    r.rmdir("d/.");
    r.rmdir("d/..");
    r.rmdir("missing");
    r.unlink("missing/x");
    r.stat("d");
    r.stat("e");
    r.rmdir("e/sub");
    r.stat("e");
    r.rmdir("e");
    r.unlink("d/f");
    r.rmdir("d");
    r.listdir("");
}

SCENARIO(names, mkdir_existing) {
    make_file(r, "f", "x");
    r.mkdir("d");
    r.symlink("f", "lf");
    r.symlink("missing", "dangling");
    r.mknod("fifo", S_IFIFO | 0644);
    for (const char* name : {"f", "d", "lf", "dangling", "fifo", "d/", "f/x"}) r.mkdir(name);
    for (const char* name : {"f", "d", "lf", "dangling"}) {
        r.symlink("x", name);
        r.mknod(name, S_IFIFO | 0600);
        r.link("f", name);
    }
    r.open("f", O_CREAT | O_EXCL | O_WRONLY, 0644);
    r.open("lf", O_CREAT | O_EXCL | O_WRONLY, 0644);
    r.open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644);
    r.lstat("missing");
    r.listdir("");
}

SCENARIO(names, name_lengths) {
    const std::string n255(255, 'a');
    const std::string n256(256, 'b');
    const std::string n254(254, 'c');
    for (const auto& n : {n254, n255, n256}) {
        const int h = r.open(n, O_CREAT | O_WRONLY, 0644);
        r.close(h);
        r.stat(n);
        r.mkdir(n + "d");
        r.symlink(n, "l" + n.substr(0, 10));
        r.readlink("l" + n.substr(0, 10));
        r.link(n, "h" + n.substr(0, 10));
        r.rename(n, n.substr(0, 5));
        r.rename(n.substr(0, 5), n);
        r.setxattr(n, "user.k", "v");
        r.unlink(n);
        r.rmdir(n + "d");
    }
    r.symlink(std::string(4095, 'x'), "longtarget");
    r.readlink("longtarget");
    r.symlink(std::string(4096, 'x'), "toolongtarget");
    r.listdir("");
}

SCENARIO(names, symlink_loops) {
    r.symlink("b", "a");
    r.symlink("a", "b");
    r.symlink("self", "self");
    r.mkdir("d");
    r.symlink("../d/x", "d/x");
    for (const char* name : {"a", "self", "d/x", "a/y"}) {
        r.stat(name);
        r.lstat(name);
        r.open(name, O_RDONLY);
        r.open(name, O_WRONLY | O_CREAT, 0644);
        r.mkdir(std::string(name) + "/z");
        r.readlink(name);
        r.access(name, F_OK);
    }
    // A chain of 40 links resolves, 41 is too long.
    make_file(r, "target", "end");
    std::string prev = "target";
    for (int i = 0; i < 41; ++i) {
        const std::string name = "c" + std::to_string(i);
        r.symlink(prev, name);
        prev = name;
    }
    r.stat("c39");
    r.stat("c40");
    r.cat("c39");
    r.cat("c40");
}

SCENARIO(names, symlinks_basic) {
    // libfuse passthrough: symlink.
    make_file(r, "f", "content");
    r.symlink("f", "l");
    r.symlink("/nonexistent/absolute", "abs");
    r.symlink("", "empty");
    r.lstat("l");
    r.stat("l");
    r.readlink("l");
    r.readlink("abs");
    r.readlink("f");
    r.readlink("missing");
    r.cat("l");
    r.stat("abs");
    r.lstat("empty");
    r.lchown("l", 1001, 1002);
    r.lstat("l");
    r.stat("f");
    r.chmod("l", 0600);  // follows the link
    r.stat("f");
    r.unlink("l");
    r.stat("f");
    r.listdir("");
}

SCENARIO(names, paths_through_files) {
    make_file(r, "f", "x");
    r.stat("f/x");
    r.lstat("f/");
    r.stat("f/.");
    r.open("f/x", O_CREAT | O_WRONLY, 0644);
    r.open("f/", O_RDONLY);
    r.mkdir("f/x");
    r.unlink("f/x");
    r.rmdir("f/x");
    r.symlink("x", "f/l");
    r.rename("f", "f/x");
    r.link("f", "f/x");
    r.truncate("f/", 0);
    r.access("f/x", F_OK);
    r.stat("missing/x");
    r.open("missing/x", O_CREAT | O_WRONLY, 0644);
    r.stat("");
}

SCENARIO(rename, file_over_file) {
    make_file(r, "a", "AAAA");
    make_file(r, "b", "BB");
    const int hb = r.open("b", O_RDONLY);
    const int ha = r.open("a", O_RDONLY);
    r.rename("a", "b");
    r.stat("a");
    r.stat("b");
    r.cat("b");
    r.same_file_fd(ha, "b");
    r.same_file_fd(hb, "b");
    r.pread(hb, 10, 0);  // the replaced file stays readable through its open handle
    r.fstat(hb);
    r.close(hb);
    r.close(ha);
    r.rename("b", "b");  // same name: no-op
    r.stat("b");
    r.link("b", "c");
    r.rename("b", "c");  // two names of one inode: no-op, both stay
    r.stat("b");
    r.stat("c");
    r.listdir("");
}

SCENARIO(rename, directories) {
    r.mkdir("d1");
    make_file(r, "d1/f", "x");
    r.mkdir("empty");
    r.mkdir("full");
    make_file(r, "full/g", "y");
    make_file(r, "file", "z");
    r.rename("d1", "empty");  // dir over empty dir
    r.stat("empty");
    r.listdir("empty");
    r.stat("d1");
    r.rename("empty", "full");     // ENOTEMPTY
    r.rename("file", "full");      // EISDIR
    r.rename("full", "file");      // ENOTDIR
    r.rename("full", "full/sub");  // own subtree: EINVAL
    r.mkdir("full/sub");
    r.rename("full", "full/sub/deeper");
    r.rename("full/sub", "full/sub/x");
    r.rename("full/sub", "full/..");
    r.rename("", "x");
    r.rename("missing", "x");
    r.rename("file", "missing/x");
    r.stat("");
    r.stat("full");
    r.listdir("");
}

SCENARIO(rename, across_directories) {
    r.mkdir("a");
    r.mkdir("b");
    r.mkdir("a/sub");
    make_file(r, "a/f", "moved");
    r.stat("a");
    r.stat("b");
    r.rename("a/f", "b/f");
    r.rename("a/sub", "b/sub");  // nlink of both parents changes
    r.stat("a");
    r.stat("b");
    r.stat("b/sub");
    r.listdir("a");
    r.listdir("b");
    r.cat("b/f");
    r.rename("b/sub", "sub");
    r.stat("b");
    r.stat("");
    r.listdir("");
}

SCENARIO(rename, noreplace_and_exchange) {
    make_file(r, "a", "AAA");
    make_file(r, "b", "B");
    r.mkdir("d");
    make_file(r, "d/x", "in d");
    r.rename("a", "b", RENAME_NOREPLACE);
    r.rename("a", "c", RENAME_NOREPLACE);
    r.stat("a");
    r.cat("c");
    r.rename("c", "b", RENAME_EXCHANGE);
    r.cat("b");
    r.cat("c");
    r.rename("c", "d", RENAME_EXCHANGE);  // file <-> dir
    r.stat("c");
    r.stat("d");
    r.listdir("c");
    r.cat("d");
    r.rename("c", "missing", RENAME_EXCHANGE);
    r.rename("c", "d", RENAME_EXCHANGE | RENAME_NOREPLACE);
    r.rename("c/x", "b", RENAME_EXCHANGE);
    r.cat("b");
    r.cat("c/x");
    r.listdir("");
}

SCENARIO(rename, over_open_file) {
    make_file(r, "target", "old content");
    make_file(r, "new", "new content");
    const int h = r.open("target", O_RDWR);
    r.rename("new", "target");
    r.pwrite(h, "OLD", 0);
    r.pread(h, 100, 0);
    r.fstat(h);
    r.cat("target");
    r.close(h);
    const int h2 = r.open("target", O_RDWR);
    make_file(r, "other", "other");
    r.rename("target", "moved");
    r.write(h2, "via handle");
    r.close(h2);
    r.cat("moved");
    r.stat("target");
    r.listdir("");
}

SCENARIO(links, counts_and_identity) {
    // libfuse passthrough: link counts.
    make_file(r, "f", "shared");
    r.stat("f");
    r.link("f", "g");
    r.mkdir("d");
    r.link("f", "d/h");
    r.stat("f");
    r.stat("d/h");
    r.same_file("f", "g");
    r.same_file("f", "d/h");
    const int h = r.open("g", O_WRONLY | O_APPEND);
    r.write(h, " more");
    r.close(h);
    r.cat("d/h");
    r.unlink("f");
    r.stat("g");
    r.unlink("d/h");
    r.stat("g");
    r.link("d", "dl");  // EPERM on directories
    r.link("missing", "m2");
    r.link("g", "g");
    r.symlink("g", "sl");
    r.link("sl", "sl2");  // link() does not follow: a second name of the symlink
    r.lstat("sl2");
    r.same_file("sl", "sl2");
    r.listdir("");
}

SCENARIO(links, unlink_while_open) {
    make_file(r, "a", "data");
    r.link("a", "b");
    const int h = r.open("a", O_RDWR);
    r.unlink("a");
    r.fstat(h);
    r.write(h, "DATA!");
    r.cat("b");
    r.unlink("b");
    r.fstat(h);  // nlink 0, still usable
    r.pread(h, 100, 0);
    r.ftruncate(h, 2);
    r.pread(h, 100, 0);
    r.close(h);
    r.listdir("");
}

SCENARIO(links, open_unlink) {
    // libfuse passthrough: open-unlink.
    const int h = r.open("f", O_RDWR | O_CREAT, 0644);
    r.write(h, "before");
    r.unlink("f");
    r.stat("f");
    r.write(h, " after");
    r.lseek(h, 0, SEEK_SET);
    r.read(h, 100);
    r.fstat(h);
    make_file(r, "f", "a new file of the same name");
    r.pread(h, 100, 0);
    r.cat("f");
    r.close(h);
    r.listdir("");
}

}  // namespace posixtest

namespace posixtest {

SCENARIO(names, dots_and_slashes) {
    r.mkdir("d");
    make_file(r, "d/f", "x");
    r.stat(".");
    r.stat("d/.");
    r.stat("d/..");
    r.stat("d//f");
    r.stat("d/./f");
    r.stat("d/../d/f");
    r.mkdir("d/.");
    r.mkdir("d/..");
    r.unlink("d/.");
    r.rename("d/.", "e");
    r.rename("d/f", "d/.");
    r.link("d/f", "d/./g");
    r.same_file("d/f", "d//g");
    r.symlink("f", "d/./l");
    r.readlink("d//l");
    r.rmdir("d/");
    r.listdir("d/");
}

SCENARIO(links, shared_metadata) {
    make_file(r, "a", "x");
    r.link("a", "b");
    r.setxattr("a", "user.k", "through a");
    r.getxattr("b", "user.k");
    r.chmod("b", 0600);
    r.stat("a");
    r.chown("a", 1001, 1002);
    r.stat("b");
    const struct timespec t[2] = {{1000000000, 5}, {1000000000, 6}};
    r.utimens("b", t);
    r.stat("a");
    r.truncate("a", 3);
    r.cat("b");
    r.rename("a", "c");
    r.same_file("b", "c");
    r.stat("c");
}

}  // namespace posixtest
