#pragma once
// One chaos phase: a fresh mount (or the POSIX suite's own mounts), a baseline census of the
// daemon's fds, the prober and the disruption loop; finish() stops them and checks what must
// hold afterwards (a worker serves, the counters in stats match, no fd left behind, a clean
// unmount, the backing tmpfs holds nothing but the tree), then prints the report row.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chaos.hpp"

namespace splicefs::failover {

class Phase {
public:
    struct Options {
        std::string name;
        Disruption::Kind kind = Disruption::Kind::kill;
        std::vector<std::string> daemon_args;  // besides chaos_daemon_args()
        bool tmpfs_backing = false;            // a private tmpfs: its inode count shows leaked references
        std::optional<Target> external;        // the mounts are someone else's (the POSIX suite's)
    };
    explicit Phase(Options o);
    ~Phase();
    Phase(const Phase&) = delete;
    Phase& operator=(const Phase&) = delete;

    [[nodiscard]] Findings& findings() { return findings_; }
    [[nodiscard]] const fs::path& mnt() const { return mnt_; }
    [[nodiscard]] const fs::path& backing() const { return backing_; }
    [[nodiscard]] const fs::path& scratch() const { return scratch_; }
    [[nodiscard]] std::uint64_t seed() const { return seed_; }
    // The disruptions are done (or failed), or the phase ran out of time.
    [[nodiscard]] bool done();
    void finish();

private:
    Options o_;
    std::uint64_t seed_;
    fs::path root_, backing_, mnt_, scratch_;
    bool tmpfs_mounted_ = false;
    Findings findings_;
    std::unique_ptr<Daemon> daemon_;
    std::unique_ptr<Prober> prober_;
    std::unique_ptr<Disruption> disruption_;
    FdCensus before_;
    int threads_before_ = 0;
    Clock::time_point started_, ready_, deadline_;
    bool finished_ = false;
};

}  // namespace splicefs::failover
