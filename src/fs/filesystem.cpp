#include "fs/filesystem.hpp"

#include "fs/survival_mirror.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

namespace splicefs::fs {

namespace {
std::vector<gid_t> current_groups() {
    const int n = ::getgroups(0, nullptr);
    if (n <= 0) return {};
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    const int got = ::getgroups(n, groups.data());
    groups.resize(got < 0 ? 0 : static_cast<std::size_t>(got));
    return groups;
}

// Half the open-file limit for O_PATH fds of known inodes; the other half stays for open
// files, directories and libfuse's pipes. Inodes beyond it are reopened by file handle.
std::size_t path_fd_budget() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return InodeTable::kUnlimited;
    return std::max<std::size_t>(64, static_cast<std::size_t>(lim.rlim_cur / 2));
}

sys::UniqueFd open_dev_null() {
    sys::UniqueFd fd{::open("/dev/null", O_WRONLY | O_CLOEXEC)};
    if (!fd) throw std::system_error(errno, std::generic_category(), "open /dev/null");
    return fd;
}
}  // namespace

Fs::Fs(const Config& cfg, sys::UniqueFd root_fd, const struct stat& root_stat, std::size_t fd_budget,
       Stats* shared_stats)
    : own_stats_(shared_stats == nullptr ? std::make_unique<Stats>() : nullptr),
      config(cfg),
      inodes(std::move(root_fd), root_stat, fd_budget),
      stats(shared_stats == nullptr ? *own_stats_ : *shared_stats),
      root_dev(root_stat.st_dev),
      root_ino(root_stat.st_ino),
      attr_timeout(cfg.effective_attr_timeout()),
      entry_timeout(cfg.effective_entry_timeout()),
      daemon_is_root(::geteuid() == 0),
      daemon_groups(current_groups()),
      dev_null(open_dev_null()),
      reshaping(cfg.reshape.active()),
      policy(decide_backing_policy(cfg, inodes.find(InodeTable::kRootId).fd())),
      read_only_(cfg.read_only) {
    if (policy.watch) {
        // A watched directory's fd stays open: a quarter of the budget at most.
        watch = BackingWatch::create(inodes, stats,
                                     fd_budget == InodeTable::kUnlimited ? fd_budget : fd_budget / 4);
        if (watch) watch->watch(InodeTable::kRootId);
    } else if (config.watch_allowed()) {
        spdlog::info("backing watch off on {}: {}", policy.fs_type, policy.reason);
    }
    stats.backing_fs = policy.fs_type;
    stats.backing_local = policy.local;
    stats.watch_reason = watch || !policy.watch ? policy.reason : "unavailable here (see the log)";
}

Fs::~Fs() {
    inodes.mirror_to(nullptr);  // the mirror goes first (members are destroyed in reverse)
}

void Fs::own_handle_fd(int fd, std::uint64_t node, bool dir) noexcept {
    if (mirror) mirror->own_fd(fd, dir ? survival::FdKind::Dir : survival::FdKind::File, node);
}

bool Fs::holds_handle_fd(int fd, std::uint64_t node) const noexcept {
    return !mirror || mirror->owns(fd, survival::FdKind::File, node);
}

void Fs::drop_handle_fd(int fd) noexcept {
    if (mirror) mirror->drop_fd(fd);
}

Fs::Timeouts Fs::timeouts(const struct stat& st, std::uint64_t since) const noexcept {
    if (!watch || !watch->covers() || watch->generation() != since) return {entry_timeout, attr_timeout};
    // A file with other links may be changed through a directory that is not watched.
    const bool one_name = S_ISDIR(st.st_mode) || st.st_nlink <= 1;
    return {BackingWatch::kWatchedTimeout, one_name ? BackingWatch::kWatchedTimeout : attr_timeout};
}

void Fs::forget(fuse_ino_t id, std::uint64_t n) {
    const auto dropped = inodes.forget(id, n);
    if (watch && dropped.inode && dropped.inode->watched.load(std::memory_order_relaxed))
        watch->unwatch(*dropped.inode, dropped.fd ? dropped.fd->get() : -1);
}

void Fs::warn_submount_once(const char* name) {
    if (!warned_submount_.exchange(true)) {
        spdlog::warn(
            "'{}' is another filesystem mounted inside the backing tree; submounts are not crossed "
            "and answer EXDEV (warned once)",
            name);
    }
}

std::string proc_fd_path(int fd) {
    return "/proc/self/fd/" + std::to_string(fd);
}

void FsDeleter::operator()(Fs* fs) const noexcept {
    std::default_delete<Fs>{}(fs);
}

FsPtr make_fs(const Config& config, Stats* shared_stats) {
    sys::UniqueFd root{::open(config.backing.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
    if (!root)
        throw std::system_error(errno, std::generic_category(),
                                "cannot open backing directory " + config.backing.string());
    struct stat st {};
    if (::fstatat(root.get(), "", &st, AT_EMPTY_PATH) != 0)
        throw std::system_error(errno, std::generic_category(),
                                "cannot stat backing directory " + config.backing.string());
    // The kernel has already applied the caller's umask to every mode it sends us; a second
    // mask in the daemon would make modes differ from what the caller asked for.
    ::umask(0);
    return FsPtr{new Fs(config, std::move(root), st, path_fd_budget(), shared_stats)};
}

Stats& stats_of(Fs& fs) noexcept {
    return fs.stats;
}

bool attach_session(fuse_session* se, Fs& fs, int fuse_fd) {
    fs.session = se;
    return install_wire_hooks(se, fs, fuse_fd);
}

void Fs::set_after_init(std::function<void()> job) {
    after_init_ = std::move(job);
    after_init_pending_.store(static_cast<bool>(after_init_), std::memory_order_release);
}

void Fs::run_after_init_once() noexcept {
    if (!after_init_pending_.exchange(false)) return;  // another worker got here first
    try {
        after_init_();
    } catch (const std::exception& e) {
        spdlog::warn("after INIT: {}", e.what());
    }
}

void run_after_init(Fs& fs, std::function<void()> job) {
    fs.set_after_init(std::move(job));
}

void start_offload(Fs& fs, unsigned threads, unsigned max_threads) {
    fs.offloader = std::make_unique<Offloader>(threads, max_threads);
}

void set_receive_spin(Fs& fs, unsigned microseconds) noexcept {
    fs.receive_spin_us.store(microseconds, std::memory_order_relaxed);
    fs.stats.spin.max_us.store(microseconds, std::memory_order_relaxed);
}

bool stop_offload_within(Fs& fs, std::chrono::milliseconds limit) noexcept {
    return !fs.offloader || fs.offloader->drain_for(limit);
}

void stop_offload(Fs& fs) noexcept {
    if (fs.offloader) fs.offloader->drain();
}

void start_watch(fuse_session* se, Fs& fs) {
    if (!fs.watch) return;
    fs.watch->start(se);
    spdlog::info(
        "backing watch on: outside changes are pushed to the kernel, which keeps names and "
        "attributes up to {:g} s",
        BackingWatch::kWatchedTimeout);
}

void stop_watch(Fs& fs) noexcept {
    if (fs.watch) fs.watch->stop();
}

void log_totals(const Fs& fs) {
    const std::string summary = fs.stats.transfer_summary();
    std::size_t start = 0;
    while (start < summary.size()) {
        const auto end = summary.find('\n', start);
        spdlog::info("{}", summary.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
}

}  // namespace splicefs::fs
