// Command-line parsing into Config: positionals anywhere, -o lists, precedence, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <string>
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

Config run_config(std::initializer_list<const char*> args) {
    auto r = parse(args);
    EXPECT_EQ(r.action, Action::Run);
    return r.config;
}

TEST(CliParse, DefaultsMatchConfig) {
    const Config c = run_config({"/srv/data", "/mnt/x"});
    const Config d;
    EXPECT_EQ(c.backing, "/srv/data");
    EXPECT_EQ(c.mountpoint, "/mnt/x");
    EXPECT_EQ(c.foreground, d.foreground);
    EXPECT_EQ(c.single_thread, d.single_thread);
    EXPECT_EQ(c.threads, d.threads);
    EXPECT_EQ(c.splice_reads, d.splice_reads);
    EXPECT_EQ(c.splice_writes, d.splice_writes);
    EXPECT_EQ(c.cache, d.cache);
    EXPECT_EQ(c.default_permissions, d.default_permissions);
    EXPECT_EQ(c.recover_stale, d.recover_stale);
    EXPECT_EQ(c.log_level, d.log_level);
    EXPECT_TRUE(c.fuse_options.empty());
}

TEST(CliParse, RelativePathsBecomeAbsoluteAndNormal) {
    const Config c = run_config({"some/./dir/", "../mnt"});
    EXPECT_TRUE(c.backing.is_absolute());
    EXPECT_TRUE(c.mountpoint.is_absolute());
    EXPECT_EQ(c.backing.string().find("/./"), std::string::npos);
    EXPECT_EQ(c.mountpoint.string().find(".."), std::string::npos);
}

TEST(CliParse, HelpAndVersionNeedNoPaths) {
    EXPECT_EQ(parse({"--help"}).action, Action::Help);
    EXPECT_EQ(parse({"-h"}).action, Action::Help);
    EXPECT_EQ(parse({"--version"}).action, Action::Version);
    EXPECT_EQ(parse({"--dump-options"}).action, Action::DumpOptions);
}

TEST(CliParse, EveryLongOption) {
    const Config c = run_config({"-f",
                                 "--clone-fd",
                                 "--threads",
                                 "8",
                                 "--cache=always",
                                 "--attr-timeout",
                                 "2.5",
                                 "--entry-timeout=0",
                                 "--writeback-cache",
                                 "--direct-io",
                                 "--no-splice-write",
                                 "--splice-move",
                                 "--read-only",
                                 "--allow-other",
                                 "--no-default-permissions",
                                 "--no-recover-stale",
                                 "--log-level",
                                 "warn",
                                 "--log-file",
                                 "/var/log/s.log",
                                 "--syslog",
                                 "/b",
                                 "/m"});
    EXPECT_TRUE(c.foreground);
    EXPECT_TRUE(c.clone_fd);
    EXPECT_EQ(c.threads, 8U);
    EXPECT_EQ(c.cache, CacheMode::Always);
    ASSERT_TRUE(c.attr_timeout.has_value());
    EXPECT_DOUBLE_EQ(*c.attr_timeout, 2.5);
    ASSERT_TRUE(c.entry_timeout.has_value());
    EXPECT_DOUBLE_EQ(*c.entry_timeout, 0.0);
    EXPECT_TRUE(c.writeback_cache);
    EXPECT_EQ(c.direct_io, DirectIo::On);
    EXPECT_TRUE(c.splice_reads);
    EXPECT_FALSE(c.splice_writes);
    EXPECT_TRUE(c.splice_move);
    EXPECT_TRUE(c.read_only);
    EXPECT_TRUE(c.allow_other);
    EXPECT_FALSE(c.default_permissions);
    EXPECT_FALSE(c.recover_stale);
    EXPECT_EQ(c.log_level, "warn");
    ASSERT_TRUE(c.log_file.has_value());
    EXPECT_EQ(*c.log_file, "/var/log/s.log");
    EXPECT_TRUE(c.syslog);
}

TEST(CliParse, SpinMicroseconds) {
    EXPECT_EQ(run_config({"/b", "/m"}).spin_us, 0U);
    EXPECT_EQ(run_config({"--spin-us=0", "/b", "/m"}).spin_us, 0U);
    EXPECT_EQ(run_config({"--spin-us", "10000", "/b", "/m"}).spin_us, 10000U);
    EXPECT_EQ(run_config({"/b", "/m", "-o", "spin_us=50"}).spin_us, 50U);
    EXPECT_THROW(parse({"--spin-us=10001", "/b", "/m"}), UsageError);
    EXPECT_THROW(parse({"--spin-us=-1", "/b", "/m"}), UsageError);
    EXPECT_THROW(parse({"--spin-us=fast", "/b", "/m"}), UsageError);
}

TEST(CliParse, DebugImpliesForeground) {
    const Config c = run_config({"-d", "/b", "/m"});
    EXPECT_TRUE(c.debug);
    EXPECT_TRUE(c.foreground);
}

TEST(CliParse, DirectIoFollowsCacheNeverUnlessTold) {
    const Config never = run_config({"--cache=never", "/b", "/m"});
    EXPECT_EQ(never.direct_io, DirectIo::Auto);
    EXPECT_TRUE(never.direct_io_unless_mmap_breaks());
    EXPECT_FALSE(run_config({"/b", "/m"}).direct_io_unless_mmap_breaks())
        << "cache=auto keeps the page cache";
    const Config off = run_config({"--cache=never", "--no-direct-io", "/b", "/m"});
    EXPECT_EQ(off.direct_io, DirectIo::Off);
    EXPECT_FALSE(off.direct_io_unless_mmap_breaks());
    EXPECT_FALSE(
        run_config({"--cache=never", "--data-path=passthrough", "/b", "/m"}).direct_io_unless_mmap_breaks());
    EXPECT_EQ(run_config({"/b", "/m", "-o", "cache=never,no_direct_io,direct_io"}).direct_io, DirectIo::On)
        << "the last word wins";
}

TEST(CliParse, NoSpliceTurnsOffBothDirections) {
    const Config c = run_config({"--no-splice", "/b", "/m"});
    EXPECT_FALSE(c.splice_reads);
    EXPECT_FALSE(c.splice_writes);
    const Config r = run_config({"--no-splice-read", "/b", "/m"});
    EXPECT_FALSE(r.splice_reads);
    EXPECT_TRUE(r.splice_writes);
}

TEST(CliParse, OptionsAfterPositionalsAsMountFuse3PassesThem) {
    const Config c = run_config({"/b", "/m", "-o", "rw,nosuid,nodev,cache=never,no_splice", "-s"});
    EXPECT_EQ(c.backing, "/b");
    EXPECT_EQ(c.mountpoint, "/m");
    EXPECT_EQ(c.cache, CacheMode::Never);
    EXPECT_FALSE(c.splice_reads);
    EXPECT_TRUE(c.single_thread);
    EXPECT_TRUE(c.fuse_options.empty());
}

TEST(CliParse, RepeatedAndAttachedDashO) {
    const Config c =
        run_config({"-oro", "/b", "-o", "max_read=65536", "/m", "-o", "threads=4,log-level=debug"});
    EXPECT_TRUE(c.read_only);
    EXPECT_EQ(c.threads, 4U);
    EXPECT_EQ(c.log_level, "debug");
    EXPECT_EQ(c.fuse_options, std::vector<std::string>{"max_read=65536"});
}

TEST(CliParse, CommandLineOverridesDashOWords) {
    const Config c = run_config({"--cache=always", "/b", "/m", "-o", "cache=never"});
    EXPECT_EQ(c.cache, CacheMode::Always);
    const Config t = run_config({"-o", "threads=2", "--threads", "6", "/b", "/m"});
    EXPECT_EQ(t.threads, 6U);
}

TEST(CliParse, LaterValueWins) {
    EXPECT_EQ(run_config({"--threads=3", "--threads=5", "/b", "/m"}).threads, 5U);
    EXPECT_FALSE(run_config({"-o", "ro,rw", "/b", "/m"}).read_only);
    EXPECT_TRUE(run_config({"-o", "rw", "-o", "ro", "/b", "/m"}).read_only);
}

TEST(CliParse, LogFileIsMadeAbsolute) {
    const Config c = run_config({"--log-file", "rel/x.log", "/b", "/m"});
    ASSERT_TRUE(c.log_file.has_value());
    EXPECT_TRUE(c.log_file->is_absolute());
}

TEST(CliParse, Errors) {
    const std::vector<std::vector<const char*>> bad{
        {},
        {"/b"},
        {"/b", "/m", "/extra"},
        {"", "/m"},
        {"/b", ""},
        {"--bogus", "/b", "/m"},
        {"-x", "/b", "/m"},
        {"--threads", "0", "/b", "/m"},
        {"--threads", "257", "/b", "/m"},
        {"--threads", "-1", "/b", "/m"},
        {"--threads", "4x", "/b", "/m"},
        {"--threads", "", "/b", "/m"},
        {"--attr-timeout", "-1", "/b", "/m"},
        {"--attr-timeout", "abc", "/b", "/m"},
        {"--entry-timeout", "inf", "/b", "/m"},
        {"--entry-timeout", "nan", "/b", "/m"},
        {"--cache", "sometimes", "/b", "/m"},
        {"--log-level", "verbose", "/b", "/m"},
        {"--log-level", "INFO", "/b", "/m"},
        {"--log-file=", "/b", "/m"},
        {"--foreground=1", "/b", "/m"},
        {"--threads", "/b", "/m"},
        {"-s", "--threads", "2", "/b", "/m"},
        {"-s", "--clone-fd", "/b", "/m"},
        {"--no-splice", "--splice-move", "/b", "/m"},
        {"--no-splice-read", "--splice-move", "/b", "/m"},
        {"--writeback-cache", "--cache=never", "/b", "/m"},
        {"-o", "single_thread", "-o", "threads=3", "/b", "/m"},
        {"/b", "/m", "-o"},
        {"/b", "/m", "-o", ""},
        {"/b", "/m", "-o", "ro,,rw"},
        {"/b", "/m", "-o", "ro,"},
        {"/b", "/m", "-o", ",ro"},
        {"/b", "/m", "-o", "=5"},
        {"/b", "/m", "-o", "ro=1"},
        {"/b", "/m", "-o", "allow_other=yes"},
        {"/b", "/m", "-o", "foreground=1"},
        {"/b", "/m", "-o", "threads"},
        {"/b", "/m", "-o", "threads="},
        {"/b", "/m", "-o", "threads=many"},
        {"/b", "/m", "-o", "cache=maybe"},
    };
    for (const auto& args : bad) {
        std::vector<const char*> argv{"splicefs"};
        argv.insert(argv.end(), args.begin(), args.end());
        std::string shown;
        for (const char* a : args) shown += std::string(" '") + a + "'";
        try {
            (void)parse_command_line(argv);
            ADD_FAILURE() << "accepted:" << shown;
        } catch (const UsageError& e) {
            EXPECT_EQ(e.code(), ExitCode::BadArguments);
            const std::string what = e.what();
            EXPECT_FALSE(what.empty()) << shown;
            EXPECT_EQ(what.find('\n'), std::string::npos) << shown << ": " << what;
        }
    }
}

TEST(CliParse, ConflictMessagesNameBothOptions) {
    try {
        (void)parse({"--single-thread", "--threads=2", "/b", "/m"});
        FAIL() << "conflict accepted";
    } catch (const UsageError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("--single-thread"), std::string::npos) << what;
        EXPECT_NE(what.find("--threads"), std::string::npos) << what;
    }
}

TEST(CliHelp, EveryRegistryOptionAppearsInHelpAndDump) {
    // Undo the wrapping: a wrapped line continues after a newline and indentation.
    std::string help;
    for (char ch : help_text()) {
        if (ch == '\n') ch = ' ';
        if (ch == ' ' && !help.empty() && help.back() == ' ') continue;
        help += ch;
    }
    const std::string dump = dump_options();
    for (const auto& spec : registry()) {
        const std::string name = display_name(spec);
        EXPECT_NE(help.find(name), std::string::npos) << name;
        if (!spec.long_name.empty()) {
            EXPECT_NE(dump.find(std::string(spec.long_name) + '\t'), std::string::npos) << spec.long_name;
        }
        if (!spec.default_text.empty()) {
            EXPECT_NE(help.find("[default: " + std::string(spec.default_text) + "]"), std::string::npos)
                << name;
        }
    }
    EXPECT_NE(help.find("Usage: splicefs [options] BACKING MOUNTPOINT"), std::string::npos);
}

TEST(CliRegistry, EveryOptionWordParsesThroughDashO) {
    // Every registry option marked as an -o word must be usable that way, with '_' spelling.
    for (const auto& spec : registry()) {
        if (!spec.o_word) continue;
        std::string word(spec.long_name);
        for (char& ch : word) {
            if (ch == '-') ch = '_';
        }
        if (spec.kind == ValueKind::Unsigned) word += "=2";
        if (spec.kind == ValueKind::Seconds) word += "=1.5";
        if (spec.kind == ValueKind::Path) word += "=/tmp/x.log";
        if (spec.kind == ValueKind::Text) {
            // Users, groups and offsets take numbers; the rest a value of their own syntax.
            const std::string_view n = spec.long_name;
            word += n == "map"                                                          ? "=0/0"
                    : (n == "perms" || n == "create-with-perms" || n == "chmod-filter") ? "=0644"
                                                                                        : "=0";
        }
        if (spec.kind == ValueKind::Choice) {
            // "a|b|c" lists the choices; LEVEL is the log level.
            const auto bar = spec.value_name.find('|');
            word += "=" + (bar == std::string_view::npos ? std::string("debug")
                                                         : std::string(spec.value_name.substr(0, bar)));
        }
        const Config c = run_config({"/b", "/m", "-o", word.c_str()});
        EXPECT_TRUE(c.fuse_options.empty()) << word << " was passed to libfuse";
    }
}

TEST(CliReshape, BindfsSpellingsAndTheFstabForm) {
    Config c =
        run_config({"-u", "0", "-g", "0", "-p", "0644,a+X", "--chown-ignore", "--chmod-deny", "/b", "/m"});
    EXPECT_EQ(c.reshape.force_uid, 0U);
    EXPECT_EQ(c.reshape.force_gid, 0U);
    EXPECT_EQ(c.reshape.chown, ChangePolicy::Ignore);
    EXPECT_EQ(c.reshape.chmod, ChangePolicy::Deny);
    EXPECT_EQ(c.reshape.perms.apply(S_IFREG | 0700) & 0777, 0755U);
    // An fstab line: ':' separates inside values, ',' separates words.
    c = run_config({"/b", "/m", "-o", "perms=0600:u+X,map=1/2:@3/@4,chgrp-deny,delete_deny,xattr-ro"});
    EXPECT_EQ(c.reshape.perms.apply(S_IFDIR | 0777) & 0777, 0700U);
    EXPECT_EQ(c.reshape.uid_map.forward(1), 2U);
    EXPECT_EQ(c.reshape.gid_map.backward(4), 3U);
    EXPECT_EQ(c.reshape.chgrp, ChangePolicy::Deny);
    EXPECT_TRUE(c.reshape.delete_deny);
    EXPECT_EQ(c.reshape.xattr, XattrPolicy::ReadOnly);
    c = run_config({"--chown-policy=deny", "/b", "/m"});
    EXPECT_EQ(c.reshape.chown, ChangePolicy::Deny);
}

TEST(CliReshape, MirrorTurnsAttributeCachingOff) {
    const Config c = run_config({"--mirror=0:1", "/b", "/m"});
    EXPECT_EQ(c.reshape.mirror_uids, (std::vector<uid_t>{0, 1}));
    EXPECT_EQ(c.attr_timeout, 0.0);
    EXPECT_FALSE(c.watch_allowed());
    EXPECT_THROW(parse({"--mirror=0", "--attr-timeout=5", "/b", "/m"}), UsageError);
    // @group: its members, here root, whose primary group is 0 on every system.
    const Config g = run_config({"-M", "@0", "/b", "/m"});
    EXPECT_TRUE(g.reshape.mirror_only);
    EXPECT_NE(std::find(g.reshape.mirror_uids.begin(), g.reshape.mirror_uids.end(), 0U),
              g.reshape.mirror_uids.end());
}

TEST(CliReshape, RefusesWhatCannotWork) {
    EXPECT_THROW(parse({"--perms=0644", "--no-default-permissions", "/b", "/m"}), UsageError);
    EXPECT_THROW(parse({"--map=1/2", "--uid-offset=5", "/b", "/m"}), UsageError);
    EXPECT_THROW(parse({"--perms=a+q", "/b", "/m"}), UsageError);
    EXPECT_THROW(parse({"--map=1/@2", "/b", "/m"}), UsageError);
    EXPECT_THROW(parse({"--map=1/2,1/3", "/b", "/m"}), UsageError);
    EXPECT_THROW(parse({"--force-user=no-such-user-xyz", "/b", "/m"}), UsageError);
    EXPECT_THROW(parse({"--chmod-policy=maybe", "/b", "/m"}), UsageError);
    EXPECT_THROW(parse({"-u", "0", "--data-path=passthrough", "/b", "/m"}), UsageError);
}

}  // namespace
}  // namespace splicefs::cli
