// The failover options: --no-failover (and -o no_failover), --handoff-version, and the hidden
// --crash-loop and --resume a live upgrade and the failover tests use.
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "cli/options.hpp"
#include "cli/parse.hpp"

namespace splicefs::cli {
namespace {

ParseResult parse(std::initializer_list<const char*> args) {
    std::vector<const char*> argv{"splicefs"};
    argv.insert(argv.end(), args.begin(), args.end());
    return parse_command_line(argv);
}

TEST(CliFailover, OnByDefaultOffByOptionOrOWord) {
    EXPECT_TRUE(parse({"/a", "/b"}).config.failover);
    EXPECT_FALSE(parse({"--no-failover", "/a", "/b"}).config.failover);
    EXPECT_FALSE(parse({"/a", "/b", "-o", "no_failover"}).config.failover);
    EXPECT_FALSE(parse({"/a", "/b", "-o", "rw,no-failover"}).config.failover);
}

TEST(CliFailover, HandoffVersionIsAnAction) {
    EXPECT_EQ(parse({"--handoff-version"}).action, Action::HandoffVersion);
}

TEST(CliFailover, CrashLoopRule) {
    const Config d;
    EXPECT_EQ(d.crash_loop_deaths, 5u);
    EXPECT_EQ(d.crash_loop_seconds, 10u);
    const Config c = parse({"--crash-loop=1000000/10", "/a", "/b"}).config;
    EXPECT_EQ(c.crash_loop_deaths, 1000000u);
    EXPECT_EQ(c.crash_loop_seconds, 10u);
    for (const char* bad : {"--crash-loop=5", "--crash-loop=0/10", "--crash-loop=5/0", "--crash-loop=5/10x",
                            "--crash-loop=/10", "--crash-loop=a/b"}) {
        EXPECT_THROW((void)parse({bad, "/a", "/b"}), UsageError) << bad;
    }
}

TEST(CliFailover, ResumeFds) {
    const Config c = parse({"/a", "/b", "--resume=3,4,5"}).config;
    ASSERT_TRUE(c.resume.has_value());
    EXPECT_EQ(c.resume->fuse_fd, 3);
    EXPECT_EQ(c.resume->handoff_fd, 4);
    EXPECT_EQ(c.resume->area_fd, 5);
    const Config no_area = parse({"/a", "/b", "--resume=3,4,-1"}).config;
    EXPECT_EQ(no_area.resume->area_fd, -1);
    EXPECT_FALSE(parse({"/a", "/b"}).config.resume.has_value());
    for (const char* bad :
         {"--resume=3", "--resume=3,4", "--resume=3,4,5,6", "--resume=-1,4,5", "--resume=x"}) {
        EXPECT_THROW((void)parse({"/a", "/b", bad}), UsageError) << bad;
    }
}

TEST(CliFailover, NoFailoverIsInTheRegistry) {
    const OptionSpec* spec = find_option("no_failover");
    ASSERT_NE(spec, nullptr);
    EXPECT_TRUE(spec->o_word);
    EXPECT_EQ(spec->kind, ValueKind::Flag);
}

}  // namespace
}  // namespace splicefs::cli
