#include "harness.hpp"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace posixtest {
namespace {

void make_dir(const std::string& p) {
    if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) throw std::runtime_error("mkdir " + p + " failed");
    ::chmod(p.c_str(), 0755);  // unprivileged children must be able to search every level
}

std::string clip(const std::string& s, std::size_t n = 400) {
    return s.size() <= n ? s : s.substr(0, n) + "...";
}

}  // namespace

namespace {
// POSIX_ROOT puts both sides on another filesystem (the backing matrix): the native side
// then shows what that filesystem itself does.
std::string pair_prefix() {
    const char* root = std::getenv("POSIX_ROOT");
    return std::string(root != nullptr && *root != '\0' ? root : "/tmp") + "/posix-";
}
}  // namespace

Pair::Pair(const FsVariant& variant) : dir_(pair_prefix()), start_(::time(nullptr)) {
    ::chmod(dir_.path().c_str(), 0755);
    native_ = dir_.path() + "/native";
    backing_ = dir_.path() + "/backing";
    mnt_ = dir_.path() + "/mnt";
    log_ = dir_.path() + "/daemon.log";
    make_dir(native_);
    make_dir(backing_);
    make_dir(mnt_);
    mount_.emplace(variant, backing_, mnt_, log_);
}

Pair::Roots Pair::fresh(const std::string& name) {
    Roots r{native_ + "/" + name, mnt_ + "/" + name, backing_ + "/" + name};
    make_dir(r.native);
    make_dir(r.mounted);
    return r;
}

std::string Pair::daemon_log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void snapshot(Recorder& r, const std::string& rel) {
    const std::string p = r.path(rel);
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
        r.note("snapshot " + rel, "missing");
        return;
    }
    r.lstat(rel);
    if (S_ISLNK(st.st_mode)) {
        r.readlink(rel);
        return;
    }
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) r.listxattr(rel, 65536);
    if (S_ISREG(st.st_mode)) r.cat(rel);
    if (!S_ISDIR(st.st_mode)) return;
    r.listdir(rel);
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(p, ec)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) snapshot(r, rel.empty() ? n : rel + "/" + n);
}

std::string compare(const Trace& native, const Trace& mounted, std::vector<std::string>* known) {
    // POSIX_ALL_DIVERGENCES=1 lists every divergent step instead of stopping at the first.
    const char* all_env = std::getenv("POSIX_ALL_DIVERGENCES");
    const bool all = all_env != nullptr && std::string(all_env) == "1";
    std::string collected;
    const std::size_t n = std::min(native.size(), mounted.size());
    for (std::size_t i = 0; i < n; ++i) {
        const auto& a = native[i];
        const auto& b = mounted[i];
        if (a.op == b.op && a.result == b.result) continue;
        if (!a.known.empty() && a.known == b.known) {
            if (known != nullptr && std::find(known->begin(), known->end(), a.known) == known->end()) {
                known->push_back(a.known);
            }
            continue;
        }
        std::ostringstream out;
        if (collected.empty()) out << "first divergence at step " << i << ":\n";
        for (std::size_t j = i >= 4 ? i - 4 : 0; j < i; ++j) {
            out << "    " << j << ": " << clip(native[j].op) << " = " << clip(native[j].result, 160) << "\n";
        }
        out << "  > " << i << ": " << clip(a.op) << "\n      native:  " << clip(a.result) << "\n";
        if (a.op != b.op) out << "      mounted op: " << clip(b.op) << "\n";
        out << "      mounted: " << clip(b.result) << "\n";
        if (!all) return out.str();
        collected += out.str();
    }
    if (!collected.empty()) return collected;
    if (native.size() != mounted.size()) {
        return "traces differ in length: native " + std::to_string(native.size()) + " steps, mounted " +
               std::to_string(mounted.size());
    }
    return {};
}

}  // namespace posixtest
