#include "core/reshape.hpp"

#include <algorithm>
#include <cerrno>
#include <limits>
#include <stdexcept>
#include <string>

namespace splicefs {
namespace {

// Right-hand operands of a symbolic rule.
constexpr std::uint8_t kOperandR = 1U << 0U;
constexpr std::uint8_t kOperandW = 1U << 1U;
constexpr std::uint8_t kOperandX = 1U << 2U;
constexpr std::uint8_t kOperandBigX = 1U << 3U;  // x if a directory or executable by anyone
constexpr std::uint8_t kOperandD = 1U << 4U;     // x if a directory
constexpr std::uint8_t kOperandU = 1U << 5U;     // the owner's bits, copied
constexpr std::uint8_t kOperandG = 1U << 6U;
constexpr std::uint8_t kOperandO = 1U << 7U;

// bindfs treats ids as signed when checking offsets for overflow.
constexpr std::uint32_t kIdMax = static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max());

mode_t to_all(mode_t bits) {
    return bits | (bits << 3U) | (bits << 6U);
}

std::invalid_argument bad_rule(std::string_view rule, const char* why) {
    return std::invalid_argument("'" + std::string(rule) + "' " + why);
}

}  // namespace

PermChain PermChain::parse(std::string_view spec) {
    if (spec.empty()) throw std::invalid_argument("needs a permission specification");
    PermChain chain;
    for (;;) {
        const auto end = spec.find_first_of(",:");
        const auto rule = spec.substr(0, end);
        if (rule.empty()) throw std::invalid_argument("has an empty rule");
        Rule r{'\0', false, false, 0, 0, 0};
        if (rule.front() >= '0' && rule.front() <= '9') {
            mode_t value = 0;
            for (char ch : rule) {
                if (ch < '0' || ch > '7') throw bad_rule(rule, "is not an octal mode");
                value = (value << 3U) | static_cast<mode_t>(ch - '0');
                if (value > 0777) throw bad_rule(rule, "is more than 0777");
            }
            r.op = 'o';
            r.files = r.dirs = true;
            r.mask = 0777;
            r.octal = value;
        } else {
            std::size_t i = 0;
            bool who = false;
            for (; i < rule.size() && r.op == '\0'; ++i) {
                switch (rule[i]) {
                    case 'u':
                        r.mask |= 0700;
                        who = true;
                        break;
                    case 'g':
                        r.mask |= 0070;
                        who = true;
                        break;
                    case 'o':
                        r.mask |= 0007;
                        who = true;
                        break;
                    case 'a':
                        r.mask = 0777;
                        who = true;
                        break;
                    case 'f':
                        r.files = true;
                        break;
                    case 'd':
                        r.dirs = true;
                        break;
                    case '=':
                    case '+':
                    case '-':
                        r.op = rule[i];
                        break;
                    default:
                        throw bad_rule(rule, "has an unknown letter before =, + or -");
                }
            }
            if (r.op == '\0') throw bad_rule(rule, "needs =, + or -");
            // No u, g, o or a means all of them, as chmod(1) (bindfs: only when the rule
            // starts with the operator; "d-w" there changes nothing).
            if (!who) r.mask = 0777;
            if (!r.files && !r.dirs) r.files = r.dirs = true;
            for (; i < rule.size(); ++i) {
                switch (rule[i]) {
                    case 'r':
                        r.operands |= kOperandR;
                        break;
                    case 'w':
                        r.operands |= kOperandW;
                        break;
                    case 'x':
                        r.operands |= kOperandX;
                        break;
                    case 'X':
                        r.operands |= kOperandBigX;
                        break;
                    case 'D':
                        r.operands |= kOperandD;
                        break;
                    case 'u':
                        r.operands |= kOperandU;
                        break;
                    case 'g':
                        r.operands |= kOperandG;
                        break;
                    case 'o':
                        r.operands |= kOperandO;
                        break;
                    case 's':
                    case 't':
                        break;  // ignored, as in bindfs
                    default:
                        throw bad_rule(rule, "has an unknown permission letter");
                }
            }
        }
        chain.rules_.push_back(r);
        if (end == std::string_view::npos) break;
        spec.remove_prefix(end + 1);
    }
    return chain;
}

mode_t PermChain::apply(mode_t mode) const noexcept {
    const mode_t original = mode;
    const bool dir = S_ISDIR(original);
    for (const Rule& r : rules_) {
        if (dir ? !r.dirs : !r.files) continue;
        if (r.op == 'o') {
            mode = (mode & ~mode_t{0777}) | r.octal;
            continue;
        }
        mode_t bits = 0;
        if ((r.operands & kOperandR) != 0) bits |= 0444;
        if ((r.operands & kOperandW) != 0) bits |= 0222;
        if ((r.operands & kOperandX) != 0) bits |= 0111;
        if ((r.operands & kOperandBigX) != 0 && (dir || (original & 0111) != 0)) bits |= 0111;
        if ((r.operands & kOperandD) != 0 && dir) bits |= 0111;
        if ((r.operands & kOperandU) != 0) bits |= to_all((original & 0700) >> 6U);
        if ((r.operands & kOperandG) != 0) bits |= to_all((original & 0070) >> 3U);
        if ((r.operands & kOperandO) != 0) bits |= to_all(original & 0007);
        bits &= r.mask;
        if (r.op == '=') {
            mode = (mode & ~r.mask) | bits;
        } else if (r.op == '+') {
            mode |= bits;
        } else {
            mode &= ~bits;
        }
    }
    return mode;
}

void IdMap::add(std::uint32_t from, std::uint32_t to) {
    for (const auto& [f, t] : pairs_) {
        if (f == from) throw std::invalid_argument(std::to_string(from) + " is mapped twice");
        if (t == to) throw std::invalid_argument(std::to_string(to) + " is mapped to twice");
    }
    pairs_.emplace_back(from, to);
}

std::uint32_t IdMap::forward(std::uint32_t id) const noexcept {
    for (const auto& [from, to] : pairs_) {
        if (from == id) return to;
    }
    return id;
}

std::uint32_t IdMap::backward(std::uint32_t id) const noexcept {
    for (const auto& [from, to] : pairs_) {
        if (to == id) return from;
    }
    return id;
}

bool Reshape::changes_attributes() const noexcept {
    return !uid_map.empty() || !gid_map.empty() || uid_offset != 0 || gid_offset != 0 || force_uid ||
           force_gid || per_caller() || !perms.empty();
}

bool Reshape::active() const noexcept {
    return changes_attributes() || create_uid || create_gid || create_as_mounter || !create_perms.empty() ||
           chown != ChangePolicy::Normal || chgrp != ChangePolicy::Normal || chmod != ChangePolicy::Normal ||
           !chmod_filter.empty() || chmod_allow_x || delete_deny || rename_deny ||
           xattr != XattrPolicy::ReadWrite;
}

bool Reshape::needs_root() const noexcept {
    return !uid_map.empty() || !gid_map.empty() || uid_offset != 0 || gid_offset != 0 || create_uid ||
           create_gid;
}

bool Reshape::mirrored(uid_t caller) const noexcept {
    return std::binary_search(mirror_uids.begin(), mirror_uids.end(), caller);
}

bool Reshape::show(struct stat& st, uid_t caller) const noexcept {
    std::uint32_t uid = uid_map.forward(st.st_uid);
    std::uint32_t gid = gid_map.forward(st.st_gid);
    if (uid > kIdMax - uid_offset || gid > kIdMax - gid_offset) return false;
    st.st_uid = force_uid.value_or(uid + uid_offset);
    st.st_gid = force_gid.value_or(gid + gid_offset);
    if (mirrored(caller)) {
        st.st_uid = caller;
    } else if (mirror_only && caller != 0) {
        st.st_mode &= ~mode_t{0777};  // nobody else but root gets in
        return true;
    }
    if (!S_ISLNK(st.st_mode)) st.st_mode = perms.apply(st.st_mode);
    return true;
}

Reshape::Chown Reshape::backing_chown(std::uint32_t uid, std::uint32_t gid) const noexcept {
    if (uid != kKeep) {
        if (chown == ChangePolicy::Deny) return {EPERM, kKeep, kKeep};
        if (chown == ChangePolicy::Ignore) {
            uid = kKeep;
        } else {
            uid = uid_map.backward(uid);
            if (uid < uid_offset) return {EIO, kKeep, kKeep};
            uid -= uid_offset;
        }
    }
    if (gid != kKeep) {
        if (chgrp == ChangePolicy::Deny) return {EPERM, kKeep, kKeep};
        if (chgrp == ChangePolicy::Ignore) {
            gid = kKeep;
        } else {
            gid = gid_map.backward(gid);
            if (gid < gid_offset) return {EIO, kKeep, kKeep};
            gid -= gid_offset;
        }
    }
    return {0, uid, gid};
}

Reshape::Chown Reshape::create_owner(uid_t uid, gid_t gid) const noexcept {
    std::uint32_t owner = 0;
    std::uint32_t group = 0;
    // A caller the offset cannot be undone for (root, with --uid-offset) keeps its own id
    // (bindfs leaves such a file to the mounter).
    if (create_uid) {
        owner = *create_uid;
    } else {
        owner = uid_map.backward(uid);
        owner = owner >= uid_offset ? owner - uid_offset : uid;
    }
    if (create_gid) {
        group = *create_gid;
    } else {
        group = gid_map.backward(gid);
        group = group >= gid_offset ? group - gid_offset : gid;
    }
    return {0, owner, group};
}

mode_t Reshape::create_mode(mode_t mode) const noexcept {
    return create_perms.apply(mode);
}

}  // namespace splicefs
