#include "mount_info.hpp"

#include <fstream>
#include <sstream>

namespace splicefs::test {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
            const int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
            out.push_back(static_cast<char>(v));
            i += 3;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

}  // namespace

std::vector<MountEntry> read_mountinfo() {
    std::vector<MountEntry> entries;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string id, parent, devno, root, mountpoint, options, word;
        fields >> id >> parent >> devno >> root >> mountpoint >> options;
        while (fields >> word && word != "-") {
        }  // optional fields end at "-"
        MountEntry e;
        e.mountpoint = unescape(mountpoint);
        e.mount_options = options;
        fields >> e.fstype >> e.source >> e.super_options;
        e.source = unescape(e.source);
        entries.push_back(std::move(e));
    }
    return entries;
}

const MountEntry* find_mount(const std::vector<MountEntry>& entries,
                             const std::filesystem::path& mountpoint) {
    const MountEntry* found = nullptr;
    for (const auto& e : entries) {
        if (std::filesystem::path(e.mountpoint) == mountpoint) found = &e;
    }
    return found;
}

bool is_under(const std::filesystem::path& path, const std::filesystem::path& root) {
    auto p = path.begin();
    for (auto r = root.begin(); r != root.end(); ++r, ++p) {
        if (r->empty()) continue;  // trailing separator
        if (p == path.end() || *p != *r) return false;
    }
    return true;
}

bool has_option(const std::string& options, const std::string& word) {
    std::istringstream in(options);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (item == word) return true;
    }
    return false;
}

}  // namespace splicefs::test
