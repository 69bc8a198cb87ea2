// chmod, chown, utimensat, and the set-id bits a write, truncate or chown clears.
#include <sys/stat.h>

#include "scenario.hpp"

namespace posixtest {
namespace {
constexpr struct timespec ts(time_t s, long ns) {
    return {s, ns};
}
}  // namespace

SCENARIO(attrs, chmod_bits) {
    make_file(r, "f", "x");
    r.mkdir("d");
    for (const mode_t m : std::initializer_list<mode_t>{0000, 0777, 07777, 04755, 02755, 01777, 0400, 0644}) {
        r.chmod("f", m);
        r.stat("f");
        r.chmod("d", m);
        r.stat("d");
    }
    const int h = r.open("f", O_RDONLY);
    r.fchmod(h, 0600);
    r.fstat(h);
    r.close(h);
    r.chmod("missing", 0644);
}

SCENARIO(attrs, chown_as_root) {
    // libfuse passthrough: chown.
    make_file(r, "f", "x", 06755);
    r.stat("f");
    r.chown("f", 1001, static_cast<gid_t>(-1));
    r.stat("f");  // chown clears set-uid and set-gid, even for root
    r.chmod("f", 06755);
    r.chown("f", static_cast<uid_t>(-1), 1002);
    r.stat("f");
    r.chmod("f", 02745);  // set-gid without group exec stays (mandatory-locking marker)
    r.chown("f", 1003, 1003);
    r.stat("f");
    r.chown("f", static_cast<uid_t>(-1), static_cast<gid_t>(-1));
    r.stat("f");
    r.mkdir("d", 06755);
    r.chmod("d", 06755);
    r.chown("d", 1001, 1001);
    r.stat("d");  // directories keep their set-id bits
    r.symlink("f", "l");
    r.lchown("l", 1002, 1002);
    r.lstat("l");
    r.stat("f");
    const int h = r.open("f", O_RDONLY);
    r.fchown(h, 0, 0);
    r.fstat(h);
    r.close(h);
}

SCENARIO(attrs, utimens_nanoseconds) {
    // libfuse passthrough: utimens with nanosecond precision.
    make_file(r, "f", "x");
    const struct timespec t1[2] = {ts(1000000000, 123456789), ts(1100000000, 987654321)};
    r.utimens("f", t1);
    r.set_atime(true);
    r.stat("f");
    const struct timespec omit_atime[2] = {ts(0, UTIME_OMIT), ts(1200000000, 1)};
    r.utimens("f", omit_atime);
    r.stat("f");
    const struct timespec omit_mtime[2] = {ts(1300000000, 999999999), ts(0, UTIME_OMIT)};
    r.utimens("f", omit_mtime);
    r.stat("f");
    const struct timespec now_mtime[2] = {ts(0, UTIME_OMIT), ts(0, UTIME_NOW)};
    r.utimens("f", now_mtime);
    r.stat("f");
    const struct timespec old[2] = {ts(-1, 0), ts(4102444800, 5)};  // before 1970 and 2100
    r.utimens("f", old);
    r.stat("f");
    r.utimens("f", nullptr);
    r.stat("f");
    const struct timespec bad[2] = {ts(0, 1000000000), ts(0, 0)};
    r.utimens("f", bad);
    r.mkdir("d");
    r.utimens("d", t1);
    r.stat("d");
    r.symlink("f", "l");
    r.utimens("l", t1, true);
    r.lstat("l");
    r.utimens("missing", t1);
}

SCENARIO(attrs, times_follow_changes) {
    // Times set far in the past: every change must move exactly the times it should to "now".
    const struct timespec past[2] = {ts(1000000000, 1), ts(1000000000, 2)};
    make_file(r, "f", "abc");
    r.mkdir("d");
    r.utimens("f", past);
    r.utimens("d", past);
    r.stat("f");
    const int h = r.open("f", O_WRONLY);
    r.write(h, "x");
    r.close(h);
    r.stat("f");  // mtime moves
    r.utimens("f", past);
    r.chmod("f", 0600);
    r.stat("f");  // mtime stays
    r.truncate("f", 1);
    r.stat("f");
    r.utimens("f", past);
    r.truncate("f", 1);  // same size: Linux still updates times for truncate()
    r.stat("f");
    r.utimens("f", past);
    const int t = r.open("f", O_WRONLY | O_TRUNC);
    r.close(t);
    r.stat("f");
    make_file(r, "d/g", "x");
    r.stat("d");  // directory mtime moves on create
    r.utimens("d", past);
    r.rename("d/g", "d/h");
    r.stat("d");
    r.utimens("d", past);
    r.unlink("d/h");
    r.stat("d");
    r.utimens("d", past);
    r.stat("d");
    r.listdir("d");
    r.stat("d");  // reading a directory changes no time we compare
}

SCENARIO(attrs, setid_cleared_on_write_by_other) {
    make_file(r, "f", "data", 06777);
    r.chmod("f", 06777);
    r.stat("f");
    r.as(kUser1, [](Recorder& c) {
        const int h = c.open("f", O_WRONLY);
        c.write(h, "X");
        c.close(h);
    });
    r.stat("f");  // both bits gone (group exec is set)
    r.chmod("f", 06777);
    const int h = r.open("f", O_WRONLY);
    r.write(h, "root keeps them");
    r.close(h);
    r.stat("f");
    make_file(r, "g", "data", 06767);
    r.chmod("g", 02767);  // set-gid without group exec
    r.as(kUser1, [](Recorder& c) {
        const int h2 = c.open("g", O_WRONLY);
        c.pwrite(h2, "Y", 0);
        c.close(h2);
    });
    r.begin_known("KD-SGID-NOGX");
    r.stat("g");
    r.end_known();
    r.chmod("g", 0644);  // same state on both sides again
    make_file(r, "t", "data", 06777);
    r.chmod("t", 06777);
    r.as(kUser1, [](Recorder& c) { c.truncate("t", 1); });
    r.stat("t");
    make_file(r, "o", "data", 06777);
    r.chmod("o", 06777);
    r.as(kUser1, [](Recorder& c) { c.close(c.open("o", O_WRONLY | O_TRUNC)); });
    r.stat("o");  // an open that truncates clears them too
}

SCENARIO(attrs, chown_chmod_by_non_owner) {
    make_file(r, "f", "x", 0666);
    r.chown("f", 1001, 1001);
    r.as(kUser2, [](Recorder& c) {
        c.chown("f", 1002, static_cast<gid_t>(-1));  // EPERM
        c.chown("f", static_cast<uid_t>(-1), 1002);  // EPERM
        c.chmod("f", 0777);                          // EPERM
        c.chown("f", static_cast<uid_t>(-1), static_cast<gid_t>(-1));
        const struct timespec now[2] = {ts(0, UTIME_NOW), ts(0, UTIME_NOW)};
        c.utimens("f", now);  // allowed: write permission
        const struct timespec set[2] = {ts(1000, 0), ts(1000, 0)};
        c.utimens("f", set);  // EPERM: not the owner
    });
    r.as(kUser1, [](Recorder& c) {
        c.chown("f", 1002, static_cast<gid_t>(-1));          // EPERM: owner cannot give away
        c.chown("f", static_cast<uid_t>(-1), kSharedGroup);  // a supplementary group: fine
        c.stat("f");
        c.chown("f", static_cast<uid_t>(-1), 1002);  // not a member: EPERM
        c.chmod("f", 04755);
        c.stat("f");
        c.chmod("f", 02755);  // own group: set-gid kept
        c.stat("f");
        c.chown("f", 1001, 1001);
        c.stat("f");
    });
    make_file(r, "g", "x", 0644);
    r.chown("g", 1001, 0);
    r.as(kUser1, [](Recorder& c) {
        c.chmod("g", 02755);  // owner but not in group 0: set-gid silently dropped
        c.stat("g");
    });
    make_file(r, "ro", "x", 0644);
    r.as(kUser2, [](Recorder& c) {
        const struct timespec now[2] = {ts(0, UTIME_NOW), ts(0, UTIME_NOW)};
        c.utimens("ro", now);  // EACCES: neither owner nor writer
        c.utimens("ro", nullptr);
    });
}

}  // namespace posixtest
