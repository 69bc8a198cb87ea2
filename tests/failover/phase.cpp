#include "phase.hpp"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <system_error>

namespace splicefs::failover {
namespace {

// Distinct inodes of a tree (hard links once), the root included.
long tree_inodes(const fs::path& root) {
    std::set<ino_t> seen;
    struct stat st {};
    if (lstat(root.c_str(), &st) == 0) seen.insert(st.st_ino);
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (lstat(it->path().c_str(), &st) == 0) seen.insert(st.st_ino);
    }
    return static_cast<long>(seen.size());
}

long used_inodes(const fs::path& p) {
    struct statfs s {};
    if (statfs(p.c_str(), &s) != 0) return -1;
    return static_cast<long>(s.f_files - s.f_ffree);
}

// Inodes of the backing fs without a name that the daemon still holds an fd to.
long deleted_inodes_held(pid_t pid, const fs::path& backing) {
    struct stat b {};
    if (stat(backing.c_str(), &b) != 0) return 0;
    std::set<ino_t> held;
    const fs::path dir = "/proc/" + std::to_string(pid) + "/fd";
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code ec2;
        const std::string target = fs::read_symlink(it->path(), ec2).string();
        if (target.size() < 10 || target.compare(target.size() - 10, 10, " (deleted)") != 0) continue;
        struct stat st {};
        if (stat(it->path().c_str(), &st) == 0 && st.st_dev == b.st_dev) held.insert(st.st_ino);
    }
    return static_cast<long>(held.size());
}

std::string arrow(int a, int b) {
    return std::to_string(a) + "->" + std::to_string(b);
}

}  // namespace

Phase::Phase(Options o) : o_(std::move(o)), started_(Clock::now()) {
    const auto& s = Settings::get();
    seed_ = s.seed ^ std::hash<std::string>{}(o_.name + (o_.kind == Disruption::Kind::kill ? "k" : "u"));
    char templ[] = "/tmp/splicefs-failover.XXXXXX";
    if (mkdtemp(templ) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
    root_ = templ;
    backing_ = root_ / "backing";
    mnt_ = root_ / "mnt";
    scratch_ = root_ / "scratch";
    for (const auto& d : {backing_, mnt_, scratch_}) fs::create_directory(d);
    if (o_.tmpfs_backing) {
        if (mount("splicefs-failover", backing_.c_str(), "tmpfs", 0, "size=1g,mode=0755") != 0)
            throw std::system_error(errno, std::generic_category(), "mount tmpfs");
        tmpfs_mounted_ = true;
    }
    Target target;
    if (o_.external) {
        target = *o_.external;
    } else {
        auto args = chaos_daemon_args();
        args.insert(args.end(), o_.daemon_args.begin(), o_.daemon_args.end());
        daemon_ = std::make_unique<Daemon>(s.binary, backing_, mnt_, root_, args);
        const pid_t pid = daemon_->pid();
        // Warm up (the first worker's threads and pipes exist), then count the fds.
        (void)wait_for([&] { return worker_of(pid) > 0; }, 5s);
        struct stat st {};
        (void)stat((mnt_ / ".").c_str(), &st);
        settle(pid, backing_);
        before_ = census(pid, backing_);
        threads_before_ = threads_of(worker_of(pid));
        target = Target{[pid] { return pid; }, [m = mnt_] { return m; }};
        const std::string stats = stats_json(mnt_);
        if (json_int(stats, "failover").value_or(0) != 1)
            findings_.error("failover is off on this mount: " +
                            json_string(stats, "failover_reason").value_or("?"));
    }
    prober_ = std::make_unique<Prober>(target, o_.external ? nullptr : &findings_);
    const int count = o_.kind == Disruption::Kind::kill ? s.kills : s.upgrades;
    disruption_ =
        std::make_unique<Disruption>(o_.kind, target, prober_.get(), &findings_, seed_, count, s.binary);
    ready_ = Clock::now();
    deadline_ = Clock::now() + (o_.kind == Disruption::Kind::kill ? 1500ms : 5000ms) * count + 90s;
}

Phase::~Phase() {
    disruption_.reset();
    prober_.reset();
    daemon_.reset();
    if (tmpfs_mounted_ && umount(backing_.c_str()) != 0) umount2(backing_.c_str(), MNT_DETACH);
    if (!is_splicefs_mounted(mnt_)) {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
}

bool Phase::done() {
    return disruption_->done() || Clock::now() > deadline_;
}

void Phase::finish() {
    if (finished_) return;
    finished_ = true;
    const auto t_finish = Clock::now();
    const bool timed_out = !disruption_->done();
    disruption_->stop();
    const int count = disruption_->count();
    const int wanted = o_.kind == Disruption::Kind::kill ? Settings::get().kills : Settings::get().upgrades;
    if (count < wanted)
        findings_.error("only " + std::to_string(count) + " of " + std::to_string(wanted) + " disruptions" +
                        (timed_out ? " before the phase's time ran out" : ""));
    PhaseRow row;
    row.phase = o_.name;
    row.kind = o_.kind == Disruption::Kind::kill ? "kill" : "upgrade";
    row.disruptions = count;
    row.pauses_ms = disruption_->pauses_ms();
    if (daemon_) {
        const pid_t pid = daemon_->pid();
        // A worker serves again: the stats xattr answers.
        const std::string stats = stats_json(mnt_);
        if (stats.empty()) findings_.error("the stats xattr does not answer after the phase");
        const char* key = o_.kind == Disruption::Kind::kill ? "failovers" : "upgrades";
        const auto n = json_int(stats, key);
        row.failovers_in_stats = json_int(stats, "failovers").value_or(-1);
        row.resent = json_int(stats, "requests_resent").value_or(-1);
        row.window_hits = json_int(stats, "resend_window_hits").value_or(-1);
        if (!n) {
            findings_.error(std::string("no \"") + key + "\" counter in the stats: " + stats.substr(0, 300));
        } else if (*n != count) {
            findings_.error(std::string("stats count ") + std::to_string(*n) + " " + key +
                            ", the test made " + std::to_string(count));
        }
        prober_->stop();
        settle(pid, backing_);
        const FdCensus after = census(pid, backing_);
        const int threads_after = threads_of(worker_of(pid));
        row.fds = "total " + arrow(before_.total, after.total) + " (open files " +
                  arrow(before_.backing_open, after.backing_open) + ", O_PATH " +
                  arrow(before_.opath, after.opath) + ", pipes " + arrow(before_.pipes, after.pipes) +
                  ", other " + arrow(before_.other, after.other) + ", worker threads " +
                  arrow(threads_before_, threads_after) + ")";
        const int pipe_room = 2 * std::max(0, threads_after - threads_before_) + 2;
        if (after.backing_open != before_.backing_open || after.pipes > before_.pipes + pipe_room ||
            after.other > before_.other + 2) {
            findings_.error("daemon fds leaked: " + row.fds + "\nbefore:\n" + before_.listing + "after:\n" +
                            after.listing);
        }
        if (tmpfs_mounted_) {
            // Every inode of the backing tmpfs is named in the tree or held by a daemon fd; one
            // held by neither is held by the kernel for the connection (a passthrough backing id
            // nobody released).
            const long used = used_inodes(backing_);
            const long named = tree_inodes(backing_);
            const long held = deleted_inodes_held(pid, backing_);
            if (used > named + held)
                findings_.error(
                    std::to_string(used - named - held) +
                    " backing inodes held by neither a name nor a daemon fd (leaked backing ids?)");
        }
        const auto status = daemon_->unmount();
        if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
            findings_.error("the daemon did not exit cleanly at unmount (status " +
                            (status ? std::to_string(*status) : std::string("killed")) + ")\n" +
                            daemon_->log().substr(0, 4000));
        if (is_splicefs_mounted(mnt_)) findings_.error("still mounted after unmount");
        if (tmpfs_mounted_) {
            const long used = used_inodes(backing_);
            const long named = tree_inodes(backing_);
            if (used != named)
                findings_.error("after unmount the backing tmpfs has " + std::to_string(used) +
                                " inodes in use, " + std::to_string(named) + " named");
            if (umount(backing_.c_str()) != 0) {
                findings_.error("backing tmpfs busy after unmount: " +
                                std::generic_category().message(errno));
            } else {
                tmpfs_mounted_ = false;
            }
        }
    } else {
        prober_->stop();
    }
    row.errors = findings_.errors();
    row.checks = findings_.checks();
    row.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    std::cout << "[failover] " << o_.name << ": set-up "
              << std::chrono::duration<double>(ready_ - started_).count() << " s, wind-down "
              << std::chrono::duration<double>(Clock::now() - t_finish).count() << " s" << std::endl;
    report(row);
}

}  // namespace splicefs::failover
