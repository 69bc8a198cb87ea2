#pragma once
// Reshaping access the way bindfs does: which owner, group and permission bits the kernel is
// shown, which backing ids a chown or a new file gets, and which changes are refused.
// A pure value built once from the options (cli/reshape_options.cpp) and read by every
// request without locks or allocation: ids are numbers here, names were resolved by the CLI.
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace splicefs {

// bindfs's chmod-like dialect (--perms, --create-with-perms): rules separated by ',' or ':',
// each octal ("0644") or [ugoa][fd]{=,+,-}[rwxXDugost]; X, D, u, g and o read the mode the
// chain started from; setuid, setgid and sticky operands are ignored as in bindfs.
class PermChain {
public:
    // Throws std::invalid_argument naming the rule that does not parse.
    [[nodiscard]] static PermChain parse(std::string_view spec);
    [[nodiscard]] mode_t apply(mode_t mode) const noexcept;
    [[nodiscard]] bool empty() const noexcept { return rules_.empty(); }

private:
    struct Rule {
        char op;     // '=', '+', '-' or 'o' (octal)
        bool files;  // applies to non-directories
        bool dirs;   // applies to directories
        mode_t mask;
        mode_t octal;
        std::uint8_t operands;  // bit set of kOperand* (chmod.cpp)
    };
    std::vector<Rule> rules_;
};

enum class ChangePolicy : std::uint8_t { Normal, Ignore, Deny };
enum class XattrPolicy : std::uint8_t { None, ReadOnly, ReadWrite };

// from -> to pairs; a few entries, searched linearly.
class IdMap {
public:
    // Throws std::invalid_argument when from or to is already mapped (as bindfs refuses).
    void add(std::uint32_t from, std::uint32_t to);
    [[nodiscard]] std::uint32_t forward(std::uint32_t id) const noexcept;
    [[nodiscard]] std::uint32_t backward(std::uint32_t id) const noexcept;
    [[nodiscard]] bool empty() const noexcept { return pairs_.empty(); }

private:
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs_;
};

struct Reshape {
    static constexpr std::uint32_t kKeep = static_cast<std::uint32_t>(-1);

    // What the kernel is shown, in this order (bindfs's): map, offset, force, mirror, perms.
    IdMap uid_map;
    IdMap gid_map;
    std::uint32_t uid_offset = 0;
    std::uint32_t gid_offset = 0;
    std::optional<uid_t> force_uid;
    std::optional<gid_t> force_gid;
    std::vector<uid_t> mirror_uids;  // sorted; --mirror @group members expanded at startup
    bool mirror_only = false;
    PermChain perms;

    // New files and directories.
    std::optional<uid_t> create_uid;
    std::optional<gid_t> create_gid;
    bool create_as_mounter = false;  // resolved into create_uid/gid by the CLI
    PermChain create_perms;

    // Changes through the mount.
    ChangePolicy chown = ChangePolicy::Normal;
    ChangePolicy chgrp = ChangePolicy::Normal;
    ChangePolicy chmod = ChangePolicy::Normal;
    PermChain chmod_filter;      // rewrites the mode a chmod asks for (normal policy)
    bool chmod_allow_x = false;  // ignore/deny still let execute bits of files change
    bool delete_deny = false;
    bool rename_deny = false;
    XattrPolicy xattr = XattrPolicy::ReadWrite;

    // Any option of this family given: the daemon takes the reshaping branches.
    [[nodiscard]] bool active() const noexcept;
    // The attributes the kernel sees differ from the backing's (ownership or mode).
    [[nodiscard]] bool changes_attributes() const noexcept;
    // What is shown depends on who asks (--mirror, --mirror-only): no attribute caching.
    [[nodiscard]] bool per_caller() const noexcept { return !mirror_uids.empty() || mirror_only; }
    // Needs the daemon to act as root (maps, offsets, --create-for-*).
    [[nodiscard]] bool needs_root() const noexcept;

    // Rewrites a backing stat for the kernel, as seen by `caller`. false: an id overflowed
    // with the offset (the request fails with EIO, as in bindfs).
    [[nodiscard]] bool show(struct stat& st, uid_t caller) const noexcept;

    // A chown/chgrp through the mount: the backing ids to set (kKeep: leave), or an errno.
    struct Chown {
        int error;
        std::uint32_t uid;
        std::uint32_t gid;
    };
    [[nodiscard]] Chown backing_chown(std::uint32_t uid, std::uint32_t gid) const noexcept;

    // Owner and group of a new backing object created by caller (uid, gid).
    [[nodiscard]] Chown create_owner(uid_t uid, gid_t gid) const noexcept;
    // Mode bits of a new object (--create-with-perms); `mode` carries the file type.
    [[nodiscard]] mode_t create_mode(mode_t mode) const noexcept;

private:
    [[nodiscard]] bool mirrored(uid_t caller) const noexcept;
};

}  // namespace splicefs
