#pragma once
// The argument vector handed to fuse_session_new(), built from the Config.
#include <fuse_opt.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"

namespace splicefs::mount {

// Escapes ',' and '\' so libfuse's -o splitter gives the value back unchanged.
[[nodiscard]] std::string escape_option_value(std::string_view value);

// {"splicefs", ["-d"], "-o", "fsname=...", "-o", "subtype=splicefs", ...}: fsname and subtype
// always (so /proc/mounts shows "<backing> <mnt> fuse.splicefs"), default_permissions unless
// disabled, allow_other, ro and the mount-flag words when asked (dev and suid only when
// `privileged`, i.e. root), then Config::fuse_options (later words win).
[[nodiscard]] std::vector<std::string> build_fuse_args(const Config& config, bool privileged);

// Owns a struct fuse_args and the strings it points to; frees what libfuse allocated.
class FuseArgs {
public:
    explicit FuseArgs(std::vector<std::string> args);
    FuseArgs(const FuseArgs&) = delete;
    FuseArgs& operator=(const FuseArgs&) = delete;
    ~FuseArgs() { fuse_opt_free_args(&args_); }

    [[nodiscard]] fuse_args* get() noexcept { return &args_; }

private:
    std::vector<std::string> storage_;
    std::vector<char*> argv_;
    fuse_args args_{};
};

}  // namespace splicefs::mount
