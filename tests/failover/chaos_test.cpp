// The chaos tests: every workload once with SIGKILLs of the worker at random moments
// (FAILOVER_KILLS per phase) and once with live upgrades (FAILOVER_UPGRADES per phase).
// Pass = no program saw an error, every byte and tree compared equal, the POSIX random mode
// did not diverge from native, the stats counted every failover/upgrade, and nothing was left
// behind (daemon fds, backing inodes, mounts). scripts/chaos.sh is the long version.
#include <gtest/gtest.h>

#include "phase.hpp"
#include "workloads.hpp"

namespace splicefs::failover {
namespace {

using Kind = Disruption::Kind;

}  // namespace

// Readable parameter names in ctest's list.
void PrintTo(Disruption::Kind k, std::ostream* os) {
    *os << (k == Disruption::Kind::kill ? "SIGKILL of the worker" : "live upgrade");
}

namespace {

class Chaos : public ::testing::TestWithParam<Kind> {};

Phase::Options options(const std::string& name, Kind kind) {
    Phase::Options o;
    o.name = name;
    o.kind = kind;
    return o;
}

#define EXPECT_NO_FINDINGS(phase) EXPECT_EQ((phase).findings().errors(), 0) << (phase).findings().summary()

TEST_P(Chaos, Fio) {
    Phase ph(options("fio", GetParam()));
    for (int r = 0; r == 0 || !ph.done(); ++r)
        fio_round(ph.mnt(), ph.backing(), ph.scratch(), r, ph.findings());
    ph.finish();
    EXPECT_NO_FINDINGS(ph);
}

TEST_P(Chaos, CpAndTar) {
    (void)source_tree();  // generated before the clock starts
    Phase ph(options("cp-tar", GetParam()));
    for (int r = 0; r == 0 || !ph.done(); ++r)
        tree_round(ph.mnt(), ph.backing(), ph.scratch(), r, ph.findings());
    ph.finish();
    EXPECT_NO_FINDINGS(ph);
}

TEST_P(Chaos, PosixRandom) {
    char templ[] = "/tmp/splicefs-failover-posix.XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    const fs::path scratch = templ;
    PosixRuns runs(POSIX_TESTS_BINARY, Settings::get().binary, scratch);
    {
        auto o = options("posix-random", GetParam());
        o.external = runs.target();
        Phase ph(o);
        for (std::uint64_t r = 0; r == 0 || !ph.done(); ++r)
            runs.round(ph.seed() % 1000000 + r, ph.findings());
        ph.finish();
        EXPECT_NO_FINDINGS(ph);
    }
    std::error_code ec;
    fs::remove_all(scratch, ec);
}

TEST_P(Chaos, OpenUnlinkedAndLockedFiles) {
    Phase ph(options("holders", GetParam()));
    {
        Holders h(ph.mnt(), ph.findings(), ph.seed());
        while (!ph.done()) h.round();
        h.finish();
    }
    ph.finish();
    EXPECT_NO_FINDINGS(ph);
}

TEST_P(Chaos, PassthroughMount) {
    auto o = options("passthrough", GetParam());
    o.daemon_args = {"--data-path=passthrough"};
    o.tmpfs_backing = true;
    Phase ph(o);
    {
        Holders h(ph.mnt(), ph.findings(), ph.seed());
        for (int r = 0; !ph.done(); ++r) {
            h.round();
            stream_round(ph.mnt(), r, ph.seed(), ph.findings());
        }
        h.finish();
    }
    ph.finish();
    EXPECT_NO_FINDINGS(ph);
}

INSTANTIATE_TEST_SUITE_P(, Chaos, ::testing::Values(Kind::kill, Kind::upgrade),
                         [](const ::testing::TestParamInfo<Kind>& p) {
                             return p.param == Kind::kill ? "kill" : "upgrade";
                         });

}  // namespace
}  // namespace splicefs::failover
