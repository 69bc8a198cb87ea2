#include "cli/reshape_options.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <string>
#include <vector>

namespace splicefs::cli {
namespace {

std::optional<std::uint32_t> number(std::string_view text) {
    std::uint32_t n = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, n);
    if (text.empty() || ec != std::errc{} || ptr != end || n == Reshape::kKeep) return std::nullopt;
    return n;
}

// One getpw*_r/getgr*_r lookup into `entry`, whose strings live in `buf`; grows `buf` on
// ERANGE. False when there is no such entry (or the lookup failed).
template <typename Entry, typename Lookup>
bool lookup(Entry& entry, std::vector<char>& buf, Lookup call) {
    buf.resize(1024);
    for (;;) {
        Entry* found = nullptr;
        const int err = call(&entry, buf.data(), buf.size(), &found);
        if (err != ERANGE) return err == 0 && found != nullptr;
        buf.resize(buf.size() * 2);
    }
}

// A user name or number, as bindfs takes them.
uid_t parse_user(std::string_view text) {
    if (const auto n = number(text)) return *n;
    const std::string name(text);
    passwd pw{};
    std::vector<char> buf;
    if (lookup(pw, buf, [&](passwd* e, char* b, std::size_t len, passwd** r) {
            return ::getpwnam_r(name.c_str(), e, b, len, r);
        }))
        return pw.pw_uid;
    throw std::invalid_argument("'" + name + "' is not a user name or number");
}

gid_t parse_group(std::string_view text) {
    if (const auto n = number(text)) return *n;
    const std::string name(text);
    group gr{};
    std::vector<char> buf;
    if (lookup(gr, buf, [&](group* e, char* b, std::size_t len, group** r) {
            return ::getgrnam_r(name.c_str(), e, b, len, r);
        }))
        return gr.gr_gid;
    throw std::invalid_argument("'" + name + "' is not a group name or number");
}

// "a,b:c" -> {"a", "b", "c"}; bindfs separates list items with ',' or ':' (':' in -o and fstab).
std::vector<std::string_view> items(std::string_view list) {
    std::vector<std::string_view> out;
    for (;;) {
        const auto end = list.find_first_of(",:");
        const auto item = list.substr(0, end);
        if (item.empty()) throw std::invalid_argument("has an empty item");
        out.push_back(item);
        if (end == std::string_view::npos) return out;
        list.remove_prefix(end + 1);
    }
}

void parse_map(Reshape& r, std::string_view spec) {
    for (const auto item : items(spec)) {
        const auto slash = item.find('/');
        if (slash == std::string_view::npos) {
            throw std::invalid_argument("'" + std::string(item) + "' is not user1/user2 or @group1/@group2");
        }
        const auto from = item.substr(0, slash);
        const auto to = item.substr(slash + 1);
        if (from.starts_with('@') != to.starts_with('@')) {
            throw std::invalid_argument("'" + std::string(item) + "' maps a user to a group");
        }
        if (from.starts_with('@')) {
            r.gid_map.add(parse_group(from.substr(1)), parse_group(to.substr(1)));
        } else {
            r.uid_map.add(parse_user(from), parse_user(to));
        }
    }
}

// Members of a group: those listing it as a supplementary group and those whose primary
// group it is. Read once at startup (bindfs rereads on SIGUSR1).
void add_members(std::vector<uid_t>& uids, gid_t gid) {
    group gr{};
    std::vector<char> gr_buf;
    if (lookup(gr, gr_buf, [&](group* e, char* b, std::size_t len, group** r) {
            return ::getgrgid_r(gid, e, b, len, r);
        })) {
        passwd pw{};
        std::vector<char> pw_buf;
        for (char** m = gr.gr_mem; m != nullptr && *m != nullptr; ++m) {
            if (lookup(pw, pw_buf, [&](passwd* e, char* b, std::size_t len, passwd** r) {
                    return ::getpwnam_r(*m, e, b, len, r);
                }))
                uids.push_back(pw.pw_uid);
        }
    }
    // There is no reentrant way to walk the user database; this runs once while the
    // options are parsed, before any thread starts.
    ::setpwent();                              // NOLINT(concurrency-mt-unsafe)
    while (const passwd* pw = ::getpwent()) {  // NOLINT(concurrency-mt-unsafe)
        if (pw->pw_gid == gid) uids.push_back(pw->pw_uid);
    }
    ::endpwent();  // NOLINT(concurrency-mt-unsafe)
}

void parse_mirror(Reshape& r, std::string_view list, bool only) {
    std::vector<uid_t> uids;
    for (const auto item : items(list)) {
        if (item.starts_with('@')) {
            add_members(uids, parse_group(item.substr(1)));
        } else {
            uids.push_back(parse_user(item));
        }
    }
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    r.mirror_uids = std::move(uids);
    r.mirror_only = only;
}

std::uint32_t parse_offset(std::string_view text) {
    const auto n = number(text);
    if (!n || *n > 0x7fffffffU)
        throw std::invalid_argument("'" + std::string(text) + "' is not a number in 0..2^31-1");
    return *n;
}

ChangePolicy parse_policy(std::string_view value) {
    if (value == "normal") return ChangePolicy::Normal;
    if (value == "ignore") return ChangePolicy::Ignore;
    if (value == "deny") return ChangePolicy::Deny;
    throw std::invalid_argument("'" + std::string(value) + "' is not one of normal, ignore, deny");
}

using G = Group;
using K = ValueKind;

#define SPLICEFS_POLICY_FLAGS(what, field)                                                  \
    {what "-normal",                                                                        \
     '\0',                                                                                  \
     K::Flag,                                                                               \
     "",                                                                                    \
     "",                                                                                    \
     G::Reshape,                                                                            \
     "same as --" what "-policy=normal",                                                    \
     [](Config& c, std::string_view) { c.reshape.field = ChangePolicy::Normal; },           \
     true},                                                                                 \
        {what "-ignore",                                                                    \
         '\0',                                                                              \
         K::Flag,                                                                           \
         "",                                                                                \
         "",                                                                                \
         G::Reshape,                                                                        \
         "same as --" what "-policy=ignore",                                                \
         [](Config& c, std::string_view) { c.reshape.field = ChangePolicy::Ignore; },       \
         true},                                                                             \
    {                                                                                       \
        what "-deny", '\0', K::Flag, "", "", G::Reshape, "same as --" what "-policy=deny",  \
            [](Config& c, std::string_view) { c.reshape.field = ChangePolicy::Deny; }, true \
    }

constexpr OptionSpec kReshapeOptions[] = {
    {"force-user", 'u', K::Text, "USER", "", G::Reshape, "show every file as owned by USER (name or number)",
     [](Config& c, std::string_view v) { c.reshape.force_uid = parse_user(v); }, true},
    {"force-group", 'g', K::Text, "GROUP", "", G::Reshape, "show every file as owned by GROUP",
     [](Config& c, std::string_view v) { c.reshape.force_gid = parse_group(v); }, true},
    {"map", '\0', K::Text, "U1/U2:@G1/@G2", "", G::Reshape,
     "show files of user U1 as owned by U2 and of group G1 as G2; a chown to U2 or a file created by U2 "
     "gets U1 on the backing (root)",
     [](Config& c, std::string_view v) { parse_map(c.reshape, v); }, true},
    {"uid-offset", '\0', K::Text, "N", "0", G::Reshape,
     "show owner uid + N; a chown or new file gets uid - N on the backing (root; not with --map)",
     [](Config& c, std::string_view v) { c.reshape.uid_offset = parse_offset(v); }, true},
    {"gid-offset", '\0', K::Text, "N", "0", G::Reshape, "show group gid + N; likewise",
     [](Config& c, std::string_view v) { c.reshape.gid_offset = parse_offset(v); }, true},
    {"mirror", 'm', K::Text, "USERS", "", G::Reshape,
     "USERS (names, numbers, @group for its members; ',' or ':' between) each see themselves as the owner "
     "of every file (attributes are then not cached)",
     [](Config& c, std::string_view v) { parse_mirror(c.reshape, v, false); }, true},
    {"mirror-only", 'M', K::Text, "USERS", "", G::Reshape,
     "like --mirror, and every other user but root sees no permission bits at all",
     [](Config& c, std::string_view v) { parse_mirror(c.reshape, v, true); }, true},
    {"perms", 'p', K::Text, "PERMS", "", G::Reshape,
     "rewrite the permission bits shown, chmod-like rules separated by ',' or ':' (':' in -o): octal "
     "(0644), [ugoa][fd]{=,+,-}[rwxXDugo] where f/d limit a rule to files/directories, X is x for "
     "directories and executables, D for directories only",
     [](Config& c, std::string_view v) { c.reshape.perms = PermChain::parse(v); }, true},
    {"create-for-user", '\0', K::Text, "USER", "the creator", G::Reshape,
     "new files and directories belong to USER on the backing (root)",
     [](Config& c, std::string_view v) { c.reshape.create_uid = parse_user(v); }, true},
    {"create-for-group", '\0', K::Text, "GROUP", "the creator's", G::Reshape,
     "new files and directories belong to GROUP on the backing (root)",
     [](Config& c, std::string_view v) { c.reshape.create_gid = parse_group(v); }, true},
    {"create-with-perms", '\0', K::Text, "PERMS", "", G::Reshape,
     "rewrite the permission bits of new files and directories on the backing, as --perms",
     [](Config& c, std::string_view v) { c.reshape.create_perms = PermChain::parse(v); }, true},
    {"create-as-user", '\0', K::Flag, "", "", G::Reshape,
     "new files belong to their creator (as mapped); the default, accepted for bindfs's spelling",
     [](Config& c, std::string_view) { c.reshape.create_as_mounter = false; }, true},
    {"create-as-mounter", '\0', K::Flag, "", "", G::Reshape,
     "new files belong to the user and group splicefs runs as (--create-for-* win)",
     [](Config& c, std::string_view) { c.reshape.create_as_mounter = true; }, true},
    {"chown-policy", '\0', K::Choice, "normal|ignore|deny", "normal", G::Reshape,
     "what a change of owner through the mount does: normal (map it back and change the backing), "
     "ignore (succeed, change nothing), deny (fail with EPERM)",
     [](Config& c, std::string_view v) { c.reshape.chown = parse_policy(v); }, true},
    {"chgrp-policy", '\0', K::Choice, "normal|ignore|deny", "normal", G::Reshape,
     "the same for a change of group",
     [](Config& c, std::string_view v) { c.reshape.chgrp = parse_policy(v); }, true},
    {"chmod-policy", '\0', K::Choice, "normal|ignore|deny", "normal", G::Reshape,
     "the same for a change of mode",
     [](Config& c, std::string_view v) { c.reshape.chmod = parse_policy(v); }, true},
    {"chmod-filter", '\0', K::Text, "PERMS", "", G::Reshape,
     "rewrite the mode a chmod through the mount asks for, as --perms, before it reaches the backing",
     [](Config& c, std::string_view v) { c.reshape.chmod_filter = PermChain::parse(v); }, true},
    {"chmod-allow-x", '\0', K::Flag, "", "off", G::Reshape,
     "with --chmod-policy=ignore or deny, still let a chmod set or clear execute bits of files",
     [](Config& c, std::string_view) { c.reshape.chmod_allow_x = true; }, true},
    SPLICEFS_POLICY_FLAGS("chown", chown),
    SPLICEFS_POLICY_FLAGS("chgrp", chgrp),
    SPLICEFS_POLICY_FLAGS("chmod", chmod),
    {"delete-deny", '\0', K::Flag, "", "off", G::Reshape, "unlink and rmdir fail with EPERM",
     [](Config& c, std::string_view) { c.reshape.delete_deny = true; }, true},
    {"rename-deny", '\0', K::Flag, "", "off", G::Reshape, "rename fails with EPERM",
     [](Config& c, std::string_view) { c.reshape.rename_deny = true; }, true},
    {"xattr-none", '\0', K::Flag, "", "", G::Reshape, "no extended attributes (every call: EOPNOTSUPP)",
     [](Config& c, std::string_view) { c.reshape.xattr = XattrPolicy::None; }, true},
    {"xattr-ro", '\0', K::Flag, "", "", G::Reshape, "extended attributes read-only (changes: EACCES)",
     [](Config& c, std::string_view) { c.reshape.xattr = XattrPolicy::ReadOnly; }, true},
    {"xattr-rw", '\0', K::Flag, "", "read-write", G::Reshape, "extended attributes read-write",
     [](Config& c, std::string_view) { c.reshape.xattr = XattrPolicy::ReadWrite; }, true},
};

#undef SPLICEFS_POLICY_FLAGS

}  // namespace

std::span<const OptionSpec> reshape_options() noexcept {
    return kReshapeOptions;
}

void finish_reshape(Config& c) {
    const Reshape& r = c.reshape;
    if (!r.active()) return;
    if (!c.default_permissions) {
        throw UsageError(
            "reshaping options need the kernel's permission checks (not --no-default-permissions)");
    }
    if (c.passthrough) {
        throw UsageError("reshaping options conflict with --data-path=passthrough");
    }
    if ((!r.uid_map.empty() || !r.gid_map.empty()) && (r.uid_offset != 0 || r.gid_offset != 0)) {
        throw UsageError("--map conflicts with --uid-offset / --gid-offset");
    }
    if (r.needs_root() && ::geteuid() != 0) {
        throw UsageError("--map, --uid-offset, --gid-offset and --create-for-* need splicefs to run as root");
    }
    if (r.create_as_mounter) {
        if (!c.reshape.create_uid) c.reshape.create_uid = ::geteuid();
        if (!c.reshape.create_gid) c.reshape.create_gid = ::getegid();
    }
    if (r.per_caller()) {
        // Each caller sees other attributes: the kernel must ask every time.
        if (c.attr_timeout.value_or(0.0) != 0.0) throw UsageError("--mirror needs --attr-timeout=0");
        c.attr_timeout = 0.0;
    }
}

}  // namespace splicefs::cli
