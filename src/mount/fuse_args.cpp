#include "mount/fuse_args.hpp"

namespace splicefs::mount {

std::string escape_option_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char ch : value) {
        if (ch == ',' || ch == '\\') out += '\\';
        out += ch;
    }
    return out;
}

std::vector<std::string> build_fuse_args(const Config& config, bool privileged) {
    std::vector<std::string> args{"splicefs"};
    if (config.debug) args.emplace_back("-d");
    auto add = [&](std::string word) {
        args.emplace_back("-o");
        args.push_back(std::move(word));
    };
    add("fsname=" + escape_option_value(config.backing.string()));
    add("subtype=splicefs");
    if (config.default_permissions) add("default_permissions");
    if (config.allow_other) add("allow_other");
    if (config.read_only) add("ro");
    // libfuse mounts nodev,nosuid unless told otherwise; a non-root mount (fusermount3)
    // cannot have dev or suid, so they are only asked for as root.
    if (config.dev && privileged) add("dev");
    if (config.suid && privileged) add("suid");
    if (!config.exec) add("noexec");
    // Only shown in /proc/mounts: FUSE inodes never update atime in the kernel, the daemon's
    // backing opens do (fs/atime.hpp). libfuse 3.14 rejects strictatime and nodiratime.
    if (config.atime == AtimeMode::Noatime) add("noatime");
    for (const auto& word : config.fuse_options) add(escape_option_value(word));
    return args;
}

FuseArgs::FuseArgs(std::vector<std::string> args) : storage_(std::move(args)) {
    for (auto& s : storage_) argv_.push_back(s.data());
    argv_.push_back(nullptr);
    args_.argc = static_cast<int>(storage_.size());
    args_.argv = argv_.data();
    args_.allocated = 0;
}

}  // namespace splicefs::mount
