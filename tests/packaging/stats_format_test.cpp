// `splicefs stats` table formatting from a counters document (no mount needed).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "cli/stats_command.hpp"
#include "core/stats.hpp"

namespace splicefs::cli {
namespace {

TEST(StatsFormat, TableFromLiveStatsObject) {
    Stats stats;
    stats.reads.add(true, 3 * 1048576);
    stats.reads.add(false, 1048576);
    stats.writes.add(true, 1048576);
    stats.open_files = 2;
    stats.known_inodes = 7;
    stats.op(Op::Read).calls = 4;
    stats.op(Op::Read).latency.record(100);
    stats.op(Op::Lookup).calls = 3;
    stats.op(Op::Lookup).errors = 1;
    const std::string table = format_stats_table(stats.to_json());
    EXPECT_NE(table.find("  reads              2       4.0 MiB       3.0 MiB       1.0 MiB     75.0%"),
              std::string::npos)
        << table;
    EXPECT_NE(table.find("  writes             1       1.0 MiB       1.0 MiB       0.0 MiB    100.0%"),
              std::string::npos)
        << table;
    EXPECT_NE(table.find("Open files 2, open directories 0, known inodes 7"), std::string::npos) << table;
    EXPECT_NE(table.find("  read                         4         0      <=128 us      <=128 us"),
              std::string::npos)
        << table;
    EXPECT_NE(table.find("  lookup                       3         1             -             -"),
              std::string::npos)
        << table;
    EXPECT_EQ(table.find("  write "), std::string::npos) << "ops without calls are not listed";
}

TEST(StatsFormat, BackingDecisionAndFreshnessCounters) {
    Stats stats;
    stats.backing_fs = "fuse.glusterfs";
    stats.backing_local = false;
    stats.watch_reason = "not a local filesystem";
    stats.changed_opens = 3;
    stats.splice_fallbacks = 1;
    const std::string table = format_stats_table(stats.to_json());
    EXPECT_NE(
        table.find("Backing filesystem fuse.glusterfs (not local), watch off: not a local filesystem\n"),
        std::string::npos)
        << table;
    EXPECT_NE(table.find("(kernel cache dropped) 3, files copied because the backing refused splice 1"),
              std::string::npos)
        << table;
}

TEST(StatsFormat, NoTrafficShowsDashes) {
    const std::string table = format_stats_table(Stats{}.to_json());
    EXPECT_NE(table.find("0.0 MiB         -\n"), std::string::npos) << table;
    EXPECT_NE(table.find("(none yet)"), std::string::npos) << table;
}

TEST(StatsFormat, RejectsWhatIsNotCounters) {
    EXPECT_THROW((void)format_stats_table(""), std::invalid_argument);
    EXPECT_THROW((void)format_stats_table("hello"), std::invalid_argument);
    EXPECT_THROW((void)format_stats_table(R"({"reads":1})"), std::invalid_argument);
    EXPECT_THROW((void)format_stats_table(R"({"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}})"),
                 std::invalid_argument);
    EXPECT_THROW((void)format_stats_table(Stats{}.to_json() + "x"), std::invalid_argument);
}

TEST(StatsFormat, SubcommandIsOnlyTheFirstArgument) {
    const char* stats[] = {"splicefs", "stats", "/mnt"};
    const char* mount[] = {"splicefs", "/srv/stats", "stats"};
    const char* bare[] = {"splicefs"};
    EXPECT_TRUE(is_stats_command(stats));
    EXPECT_FALSE(is_stats_command(mount));
    EXPECT_FALSE(is_stats_command(bare));
}

}  // namespace
}  // namespace splicefs::cli
