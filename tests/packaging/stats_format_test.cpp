// `splicefs stats` table formatting from a counters document (no mount needed).
#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/mount_list.hpp"
#include "cli/stats_command.hpp"
#include "cli/stats_prometheus.hpp"
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

TEST(StatsFormat, SpinLineOnlyWhenTheSpinIsOn) {
    Stats stats;
    EXPECT_EQ(format_stats_table(stats.to_json()).find("Spin before sleeping"), std::string::npos);
    stats.spin.max_us = 200;
    stats.spin.windows = 10;
    stats.spin.caught = 7;
    stats.spin.contended = 1;
    stats.spin.spun_ns = 2'500'000;
    const std::string table = format_stats_table(stats.to_json());
    EXPECT_NE(table.find("Spin before sleeping (--spin-us=200): 10 windows, 7 caught a request, 1 cut short "
                         "by other work, 2.5 ms spun in all\n"),
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

TEST(StatsPrometheus, HistogramIsCumulativeWithSumAndCount) {
    Stats stats;
    stats.op(Op::Read).calls = 3;
    stats.op(Op::Read).latency.record(0);                       // < 1 us
    stats.op(Op::Read).latency.record(100);                     // [64, 128) us
    stats.op(Op::Read).latency.record(std::uint64_t{1} << 30);  // beyond the last finite bound
    stats.reads.add(true, 4096);
    const std::vector<MountCounters> mounts = {{"/mnt/a \"b\"\\c", stats.to_json()}, {"/mnt/dead", ""}};
    const std::string text = format_prometheus(mounts);
    const std::string l = R"(mountpoint="/mnt/a \"b\"\\c",op="read")";
    for (
        const std::string& want : {
            std::string(R"(splicefs_up{mountpoint="/mnt/a \"b\"\\c"} 1)"),
            std::string(R"(splicefs_up{mountpoint="/mnt/dead"} 0)"),
            std::string(
                R"(splicefs_transfer_bytes_total{mountpoint="/mnt/a \"b\"\\c",direction="read",method="splice"} 4096)"),
            "splicefs_operations_total{" + l + "} 3",
            "splicefs_operation_duration_seconds_bucket{" + l + R"(,le="0.000001"} 1)",
            "splicefs_operation_duration_seconds_bucket{" + l + R"(,le="0.000064"} 1)",
            "splicefs_operation_duration_seconds_bucket{" + l + R"(,le="0.000128"} 2)",
            "splicefs_operation_duration_seconds_bucket{" + l + R"(,le="33.554432"} 2)",
            "splicefs_operation_duration_seconds_bucket{" + l + R"(,le="+Inf"} 3)",
            "splicefs_operation_duration_seconds_sum{" + l + "} 1073.741924",
            "splicefs_operation_duration_seconds_count{" + l + "} 3",
            std::string("# TYPE splicefs_operation_duration_seconds histogram"),
        }) {
        EXPECT_NE(text.find(want + "\n"), std::string::npos) << want << "\n" << text;
    }
    EXPECT_EQ(text.find("le=\"67.108864\""), std::string::npos) << "bounds stop at 2^25 us";
    EXPECT_EQ(text.find("splicefs_watched_dirs{"), std::string::npos) << "the watch is off (-1)";
    std::size_t families = 0;
    for (std::size_t at = 0; (at = text.find("# TYPE ", at)) != std::string::npos; ++at) ++families;
    EXPECT_EQ(families, 30U) << "each family once, for all mounts (17 + 4 of the spin + 9 of failover)";
    EXPECT_EQ(text.find("splicefs_spin_windows_total{"), std::string::npos) << "the spin is off";
}

TEST(StatsPrometheus, RejectsWhatIsNotCounters) {
    const std::vector<MountCounters> bad = {{"/m", R"({"reads":1})"}};
    EXPECT_THROW((void)format_prometheus(bad), std::invalid_argument);
    std::string json = Stats{}.to_json();
    json.replace(
        json.find(R"("ops":{})"), 8,
        R"("ops":{"read":{"calls":1,"errors":0,"p50_us":1,"p99_us":1,"sum_us":0,"buckets":{"3":1}}})");
    const std::vector<MountCounters> not_power_of_two = {{"/m", json}};
    EXPECT_THROW((void)format_prometheus(not_power_of_two), std::invalid_argument);
}

TEST(MountList, FuseSplicefsLinesWithEscapesDecoded) {
    std::istringstream info(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "36 22 0:31 / /tmp/a\\040b rw,nosuid,nodev,relatime shared:2 - fuse.splicefs /srv rw,user_id=0\n"
        "37 22 0:32 / /mnt/other rw shared:3 - fuse.bindfs /srv rw\n"
        "38 22 0:33 / /mnt/x\\134y rw shared:4 - fuse.splicefs /srv rw\n");
    EXPECT_EQ(splicefs_mountpoints(info), (std::vector<std::string>{"/tmp/a b", "/mnt/x\\y"}));
}

}  // namespace
}  // namespace splicefs::cli
