#include "cli/mount_list.hpp"

#include <fstream>
#include <sstream>

namespace splicefs::cli {
namespace {

bool is_octal(char ch) {
    return ch >= '0' && ch <= '7';
}

// mountinfo writes space, tab, newline and backslash in paths as \ooo.
std::string unescape(const std::string& field) {
    std::string out;
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size() && is_octal(field[i + 1]) && is_octal(field[i + 2]) &&
            is_octal(field[i + 3])) {
            out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                     (field[i + 3] - '0'));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

}  // namespace

std::vector<std::string> splicefs_mountpoints(std::istream& mountinfo) {
    // "36 35 0:31 / /mnt/data rw,relatime shared:1 - fuse.splicefs /srv/data rw,user_id=0,..."
    std::vector<std::string> out;
    std::string line;
    while (std::getline(mountinfo, line)) {
        const auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        std::istringstream tail(line.substr(dash + 3));
        std::string fstype;
        if (!(tail >> fstype) || fstype != "fuse.splicefs") continue;
        std::istringstream head(line.substr(0, dash));
        std::string id, parent, dev, root, mountpoint;
        if (head >> id >> parent >> dev >> root >> mountpoint) out.push_back(unescape(mountpoint));
    }
    return out;
}

std::vector<std::string> splicefs_mountpoints() {
    std::ifstream in("/proc/self/mountinfo");
    return splicefs_mountpoints(in);
}

}  // namespace splicefs::cli
