// The -o translator: splitting, fstab words, our words, libfuse pass-through.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/mount_options.hpp"
#include "cli/options.hpp"

namespace splicefs::cli {
namespace {

using Words = std::vector<std::string>;

TEST(OptionList, SplitsOnCommasWithEscapes) {
    EXPECT_EQ(split_option_list("a"), Words{"a"});
    EXPECT_EQ(split_option_list("a,b=c,d"), (Words{"a", "b=c", "d"}));
    EXPECT_EQ(split_option_list(R"(fsname=a\,b,ro)"), (Words{"fsname=a,b", "ro"}));
    EXPECT_EQ(split_option_list(R"(x=back\\slash)"), Words{R"(x=back\slash)"});
}

TEST(OptionList, EmptyWordsAreErrors) {
    for (const char* list : {"", ",", "a,,b", "a,", ",a"}) {
        EXPECT_THROW((void)split_option_list(list), UsageError) << list;
    }
}

TEST(OptionList, FstabWordsAreDropped) {
    Config c;
    apply_option_list(c,
                      "defaults,nofail,_netdev,auto,noauto,user,users,nouser,owner,group,comment=hello,"
                      "x-systemd.automount,x-systemd.mount-timeout=30,x-gvfs-hide,user=alice");
    EXPECT_TRUE(c.fuse_options.empty());
    const Config d;
    EXPECT_EQ(c.read_only, d.read_only);
    EXPECT_EQ(c.allow_other, d.allow_other);
}

TEST(OptionList, MountFlagWordsLastOneWins) {
    Config c;
    apply_option_list(c, "dev,suid,noexec,noatime,nodiratime");
    EXPECT_TRUE(c.dev);
    EXPECT_TRUE(c.suid);
    EXPECT_FALSE(c.exec);
    EXPECT_EQ(c.atime, AtimeMode::Noatime);
    EXPECT_TRUE(c.nodiratime);
    EXPECT_FALSE(c.remount);
    apply_option_list(c, "nodev,nosuid,exec,strictatime,diratime,remount");
    EXPECT_FALSE(c.dev);
    EXPECT_FALSE(c.suid);
    EXPECT_TRUE(c.exec);
    EXPECT_EQ(c.atime, AtimeMode::Strictatime);
    EXPECT_FALSE(c.nodiratime);
    EXPECT_TRUE(c.remount);
    apply_option_list(c, "relatime");
    EXPECT_EQ(c.atime, AtimeMode::Relatime);
    EXPECT_TRUE(c.fuse_options.empty()) << "none of them is handed to libfuse as a raw word";
    EXPECT_THROW(apply_option_list(c, "dev=1"), UsageError);
    const Config d;
    EXPECT_FALSE(d.dev) << "safe defaults";
    EXPECT_FALSE(d.suid);
    EXPECT_TRUE(d.exec);
}

TEST(OptionList, FstabWordDetection) {
    EXPECT_TRUE(is_fstab_only_word("nofail"));
    EXPECT_TRUE(is_fstab_only_word("x-systemd.requires=/dev/sda"));
    EXPECT_TRUE(is_fstab_only_word("comment=systemd.automount"));
    EXPECT_FALSE(is_fstab_only_word("nofail=1"));
    EXPECT_FALSE(is_fstab_only_word("max_read=4096"));
    EXPECT_FALSE(is_fstab_only_word("ro"));
    EXPECT_FALSE(is_fstab_only_word("users_allowed"));
}

TEST(OptionList, MountWordsWeInterpret) {
    Config c;
    apply_option_list(c, "ro,allow_other,default_permissions");
    EXPECT_TRUE(c.read_only);
    EXPECT_TRUE(c.allow_other);
    EXPECT_TRUE(c.default_permissions);
    apply_option_list(c, "no_default_permissions,rw");
    EXPECT_FALSE(c.default_permissions);
    EXPECT_FALSE(c.read_only);
    EXPECT_TRUE(c.fuse_options.empty());
}

TEST(OptionList, LongOptionsWithUnderscoresOrDashes) {
    Config c;
    apply_option_list(c, "cache=never,no_splice,threads=4,log_level=debug,attr-timeout=3,entry_timeout=0.5");
    EXPECT_EQ(c.cache, CacheMode::Never);
    EXPECT_FALSE(c.splice_reads);
    EXPECT_FALSE(c.splice_writes);
    EXPECT_EQ(c.threads, 4U);
    EXPECT_EQ(c.log_level, "debug");
    EXPECT_DOUBLE_EQ(c.attr_timeout.value_or(-1), 3.0);
    EXPECT_DOUBLE_EQ(c.entry_timeout.value_or(-1), 0.5);
    EXPECT_TRUE(c.fuse_options.empty());
}

TEST(OptionList, UnknownWordsGoToLibfuseInOrder) {
    Config c;
    apply_option_list(c, R"(max_read=131072,nofail,fsname=x\,y,auto_unmount,kernel_cache)");
    EXPECT_EQ(c.fuse_options, (Words{"max_read=131072", "fsname=x,y", "auto_unmount", "kernel_cache"}));
}

TEST(OptionList, HelpAndVersionAreNotWords) {
    Config c;
    apply_option_list(c, "help,version");
    EXPECT_EQ(c.fuse_options, (Words{"help", "version"}));  // libfuse will reject them
}

TEST(OptionList, MalformedWords) {
    for (const char* list :
         {"=x", "ro=1", "rw=0", "allow_other=1", "default_permissions=yes", "no_splice=1", "threads",
          "threads=", "threads=0", "attr_timeout=-2", "cache=", "log_level=loud"}) {
        Config c;
        EXPECT_THROW(apply_option_list(c, list), UsageError) << list;
    }
}

}  // namespace
}  // namespace splicefs::cli
