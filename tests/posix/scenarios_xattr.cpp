// Extended attributes in the user., trusted. and security. namespaces, and POSIX ACLs.
#include <sys/xattr.h>

#include <cstdint>

#include "scenario.hpp"

namespace posixtest {
namespace {

// The kernel's binary ACL format (posix_acl_xattr.h): version 2, then {tag, perm, id} entries.
struct AclEntry {
    std::uint16_t tag;
    std::uint16_t perm;
    std::uint32_t id;
};
constexpr std::uint16_t kUserObj = 0x01, kUser = 0x02, kGroupObj = 0x04, kGroup = 0x08, kMask = 0x10,
                        kOther = 0x20;
constexpr std::uint32_t kUndefined = 0xffffffffU;

std::string acl(std::initializer_list<AclEntry> entries) {
    std::string out;
    auto put32 = [&](std::uint32_t v) {
        for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    };
    auto put16 = [&](std::uint16_t v) {
        out.push_back(static_cast<char>(v & 0xff));
        out.push_back(static_cast<char>(v >> 8));
    };
    put32(2);
    for (const auto& e : entries) {
        put16(e.tag);
        put16(e.perm);
        put32(e.id);
    }
    return out;
}

}  // namespace

SCENARIO(xattr, user_namespace) {
    make_file(r, "f", "x");
    r.mkdir("d");
    for (const char* target : {"f", "d"}) {
        r.listxattr(target);
        r.setxattr(target, "user.a", "one");
        r.setxattr(target, "user.b", "");
        r.setxattr(target, "user.bin", std::string("\0\x01\xff", 3));
        r.setxattr(target, "user.big", pattern(3000));
        r.getxattr(target, "user.a");
        r.getxattr(target, "user.b");
        r.getxattr(target, "user.bin");
        r.getxattr(target, "user.big", 4000);
        r.getxattr(target, "user.missing");  // ENODATA
        r.getxattr(target, "user.a", 2);     // ERANGE
        r.getxattr(target, "user.a", 0);     // size query
        r.listxattr(target);
        r.listxattr(target, 0);
        r.listxattr(target, 5);                              // ERANGE
        r.setxattr(target, "user.a", "two", XATTR_CREATE);   // EEXIST
        r.setxattr(target, "user.new", "v", XATTR_REPLACE);  // ENODATA
        r.setxattr(target, "user.a", "three", XATTR_REPLACE);
        r.setxattr(target, "user.c", "v", XATTR_CREATE);
        r.getxattr(target, "user.a");
        r.removexattr(target, "user.a");
        r.removexattr(target, "user.a");  // ENODATA
        r.listxattr(target);
        r.setxattr(target, "user.", "empty name");
        r.setxattr(target, "nonamespace", "v");  // EOPNOTSUPP
        r.setxattr(target, "user." + std::string(251, 'n'), "v");
        r.setxattr(target, "user." + std::string(256, 'n'), "v");  // ERANGE
        r.setxattr(target, "user.huge", pattern(70000));           // E2BIG
    }
    r.symlink("f", "l");
    r.lsetxattr("l", "user.x", "v");  // EPERM: user xattrs only on files and directories
    r.lgetxattr("l", "user.x");
    r.setxattr("l", "user.via", "link");  // follows the link
    r.getxattr("f", "user.via");
    r.mknod("p", S_IFIFO | 0644);
    r.setxattr("p", "user.x", "v");
    r.getxattr("missing", "user.x");
}

SCENARIO(xattr, trusted_and_security) {
    make_file(r, "f", "x", 0666);
    r.setxattr("f", "trusted.t", "root only");
    r.setxattr("f", "security.s", "sec");
    r.setxattr("f", "user.u", "user");
    r.getxattr("f", "trusted.t");
    r.getxattr("f", "security.s");
    r.listxattr("f");
    r.as(kUser1, [](Recorder& c) {
        c.listxattr("f");              // trusted.* hidden from unprivileged users
        c.getxattr("f", "trusted.t");  // ENODATA
        c.getxattr("f", "security.s");
        c.setxattr("f", "trusted.x", "v");   // EPERM
        c.setxattr("f", "security.x", "v");  // EPERM
        c.setxattr("f", "user.mine", "v");   // allowed: write permission
        c.removexattr("f", "trusted.t");
    });
    r.chmod("f", 0644);
    r.as(kUser1, [](Recorder& c) {
        c.setxattr("f", "user.denied", "v");  // EACCES
        c.getxattr("f", "user.u");            // read permission suffices
        c.removexattr("f", "user.u");
    });
    r.chmod("f", 0600);
    r.as(kUser1, [](Recorder& c) { c.getxattr("f", "user.u"); });  // EACCES
    r.listxattr("f");
}

SCENARIO(xattr, posix_acl_access) {
    make_file(r, "f", "secret", 0600);
    const std::string a = acl({{kUserObj, 6, kUndefined},
                               {kUser, 6, 1001},
                               {kGroupObj, 0, kUndefined},
                               {kGroup, 4, kSharedGroup},
                               {kMask, 6, kUndefined},
                               {kOther, 0, kUndefined}});
    r.setxattr("f", "system.posix_acl_access", a);
    r.stat("f");  // group bits now show the mask
    r.getxattr("f", "system.posix_acl_access");
    r.listxattr("f");
    r.as(kUser1, [](Recorder& c) {  // named user entry: read and write
        const int h = c.open("f", O_RDWR);
        c.write(h, "S");
        c.close(h);
        c.access("f", R_OK | W_OK);
    });
    r.as(kUser2, [](Recorder& c) {  // through group 3000: read only
        c.cat("f");
        c.open("f", O_WRONLY);
    });
    r.as(kUser3, [](Recorder& c) { c.cat("f"); });  // other: nothing
    r.chmod("f", 0640);                             // chmod rewrites the mask
    r.getxattr("f", "system.posix_acl_access");
    r.as(kUser1, [](Recorder& c) { c.open("f", O_WRONLY); });
    r.setxattr("f", "system.posix_acl_access", "garbage");  // EINVAL
    r.removexattr("f", "system.posix_acl_access");
    r.stat("f");
    r.getxattr("f", "system.posix_acl_access");
    r.as(kUser1, [](Recorder& c) { c.cat("f"); });
}

SCENARIO(xattr, posix_acl_default) {
    r.mkdir("d", 0755);
    const std::string def = acl({{kUserObj, 7, kUndefined},
                                 {kUser, 7, 1001},
                                 {kGroupObj, 5, kUndefined},
                                 {kMask, 7, kUndefined},
                                 {kOther, 0, kUndefined}});
    r.setxattr("d", "system.posix_acl_default", def);
    r.getxattr("d", "system.posix_acl_default");
    make_file(r, "f", "x");
    r.setxattr("f", "system.posix_acl_default", def);  // EACCES: only directories
    const int h = r.open("d/new", O_CREAT | O_WRONLY, 0666);
    r.fstat(h);  // the mode comes from the default ACL, not the umask
    r.close(h);
    r.getxattr("d/new", "system.posix_acl_access");
    r.mkdir("d/sub", 0777);
    r.stat("d/sub");
    r.getxattr("d/sub", "system.posix_acl_default");
    r.getxattr("d/sub", "system.posix_acl_access");
    r.as(kUser1, [](Recorder& c) {
        const int w = c.open("d/new", O_WRONLY);
        c.write(w, "named user writes");
        c.close(w);
        const int n = c.open("d/mine", O_CREAT | O_WRONLY, 0644);
        c.close(n);
    });
    r.listdir("d");
    r.removexattr("d", "system.posix_acl_default");
    r.getxattr("d", "system.posix_acl_default");
}

}  // namespace posixtest
