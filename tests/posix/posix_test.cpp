// The differential suite: every scenario x every filesystem variant, the seeded random mode,
// and a few checks that only make sense on the mount (source inode numbers, the stats xattr).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "harness.hpp"
#include "random_ops.hpp"
#include "scenario.hpp"

namespace posixtest {
namespace {

const std::vector<FsVariant>& variants() {
    static const std::vector<FsVariant> all = variants_from_env();
    return all;
}

long env_long(const char* name, long fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 0) : fallback;
}

std::string sanitize(std::string s) {
    for (auto& c : s) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
    }
    return s;
}

// Runs a scenario function on both sides of a fresh pair of directories and compares the
// traces, then the resulting trees (the native tree against the backing tree).
std::string run_differential(Pair& pair, const std::string& name, const std::function<void(Recorder&)>& fn,
                             std::vector<std::string>* known) {
    const auto roots = pair.fresh(name);
    Trace native;
    Trace mounted;
    {
        Recorder r(roots.native, native, pair.start());
        fn(r);
    }
    {
        Recorder r(roots.mounted, mounted, pair.start());
        fn(r);
    }
    std::string report = compare(native, mounted, known);
    if (!report.empty()) return report;
    Trace native_tree;
    Trace backing_tree;
    {
        Recorder r(roots.native, native_tree, pair.start());
        snapshot(r, "");
    }
    {
        Recorder r(roots.backing, backing_tree, pair.start());
        snapshot(r, "");
    }
    report = compare(native_tree, backing_tree);
    if (!report.empty()) return "final tree (native vs backing) differs: " + report;
    return {};
}

struct Case {
    std::size_t variant;
    std::size_t scenario;
};

std::vector<Case> all_cases() {
    std::vector<Case> out;
    for (std::size_t v = 0; v < variants().size(); ++v) {
        for (std::size_t s = 0; s < scenarios().size(); ++s) out.push_back({v, s});
    }
    return out;
}

class Differential : public ::testing::TestWithParam<Case> {};

TEST_P(Differential, SameAsNative) {
    const auto& variant = variants()[GetParam().variant];
    const auto& scenario = scenarios()[GetParam().scenario];
    Pair pair(variant);
    std::vector<std::string> known;
    const std::string report = run_differential(pair, "t", scenario.run, &known);
    EXPECT_TRUE(report.empty()) << scenario.family << "/" << scenario.name << " on " << variant.name << "\n"
                                << report;
    for (const auto& k : known) std::cout << "[ known    ] " << k << " (see tests/KNOWN_DIFFERENCES.md)\n";
    EXPECT_TRUE(pair.daemon_alive()) << "the daemon died:\n" << pair.daemon_log();
}

INSTANTIATE_TEST_SUITE_P(Posix, Differential, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& p) {
                             const auto& s = scenarios()[p.param.scenario];
                             return sanitize(s.family + "_" + s.name + "__" +
                                             variants()[p.param.variant].name);
                         });

// The atime words, compared with a native mount that has the same word: the native directory
// is bind-mounted onto itself with it (RAII: unmounted again however the test ends).
class NativeBindMount {
public:
    NativeBindMount(const std::string& dir, const std::string& word) : dir_(dir) {
        ok_ = run_command({"mount", "--bind", dir, dir}) == 0;
        if (ok_) ok_ = run_command({"mount", "-o", "remount,bind," + word, dir}) == 0;
    }
    ~NativeBindMount() { (void)run_command({"umount", "-l", dir_}); }
    NativeBindMount(const NativeBindMount&) = delete;
    NativeBindMount& operator=(const NativeBindMount&) = delete;
    [[nodiscard]] bool ok() const { return ok_; }

private:
    std::string dir_;
    bool ok_ = false;
};

void atime_scenario(Recorder& r) {
    make_file(r, "f", pattern(3 * 4096 + 5));
    r.mkdir("d");
    make_file(r, "d/x", "x");
    // Aged atimes (older than ctime): relatime updates them at the next read, noatime never.
    const struct timespec aged[2] = {{1600000000, 0}, {0, UTIME_OMIT}};
    r.utimens("f", aged);
    r.utimens("d", aged);
    r.set_atime(true);
    r.stat("f");
    r.stat("d");
    for (int round = 0; round < 2; ++round) {
        const int h = r.open("f", O_RDONLY);
        r.read(h, 3 * 4096 + 5);
        r.close(h);
        r.listdir("d");
        r.stat("f");
        r.stat("d");
    }
}

struct AtimeCase {
    std::size_t variant;
    const char* word;
};

std::vector<AtimeCase> atime_cases() {
    std::vector<AtimeCase> out;
    for (std::size_t v = 0; v < variants().size(); ++v) {
        for (const char* w : {"noatime", "nodiratime", "relatime"}) out.push_back({v, w});
    }
    return out;
}

class AtimeDifferential : public ::testing::TestWithParam<AtimeCase> {};

TEST_P(AtimeDifferential, SameAsNativeMount) {
    auto variant = variants()[GetParam().variant];
    const std::string word = GetParam().word;
    if (!variant.is_splicefs) GTEST_SKIP() << "splicefs only";
    // Reads served from the FUSE page cache never reach the daemon: relatime is only
    // comparable when every open starts cold (KD-ATIME-CACHE).
    if (word == "relatime" && variant.name.find("cachenever") == std::string::npos)
        GTEST_SKIP() << "relatime with the page cache kept: KD-ATIME-CACHE";
    // Kernel passthrough reads through a backing file of the kernel's own (KD-ATIME-PASSTHROUGH).
    if (word == "noatime" &&
        std::count(variant.args.begin(), variant.args.end(), "--data-path=passthrough") > 0)
        GTEST_SKIP() << "noatime with kernel passthrough: KD-ATIME-PASSTHROUGH";
    variant.args.insert(variant.args.end(), {"-o", word});
    Pair pair(variant);
    const NativeBindMount native(pair.native(), word);
    ASSERT_TRUE(native.ok()) << "cannot bind-mount the native side with " << word;
    std::vector<std::string> known;
    const std::string report = run_differential(pair, "t", atime_scenario, &known);
    EXPECT_TRUE(report.empty()) << word << " on " << variant.name << "\n" << report;
    EXPECT_TRUE(pair.daemon_alive()) << "the daemon died:\n" << pair.daemon_log();
}

INSTANTIATE_TEST_SUITE_P(Posix, AtimeDifferential, ::testing::ValuesIn(atime_cases()),
                         [](const ::testing::TestParamInfo<AtimeCase>& p) {
                             return sanitize(std::string("atime_") + p.param.word + "__" +
                                             variants()[p.param.variant].name);
                         });

class OnMount : public ::testing::TestWithParam<std::size_t> {};

// Seeded random sequences; on divergence, shrink and print a minimal reproduction.
TEST_P(OnMount, RandomOperations) {
    const auto& variant = variants()[GetParam()];
    const auto seed = static_cast<std::uint64_t>(env_long("POSIX_RANDOM_SEED", 20240611));
    const auto count = static_cast<std::size_t>(env_long("POSIX_RANDOM_OPS", 1000));
    const long rounds = env_long("POSIX_RANDOM_ROUNDS", 4);
    Pair pair(variant);
    int dir_counter = 0;
    auto diverges = [&](const std::vector<RandomOp>& ops, std::string* report,
                        std::vector<std::size_t>* steps) {
        const auto name = "r" + std::to_string(dir_counter++);
        const auto roots = pair.fresh(name);
        Trace native;
        Trace mounted;
        {
            Recorder r(roots.native, native, pair.start());
            run_ops(r, ops, steps);
        }
        {
            Recorder r(roots.mounted, mounted, pair.start());
            run_ops(r, ops);
        }
        if (steps != nullptr) {  // a top-level round (not a shrink trial): say how much it did
            const auto failed = std::count_if(native.begin(), native.end(),
                                              [](const Step& st) { return st.result.rfind("-1 ", 0) == 0; });
            if (const char* dump = std::getenv("POSIX_RANDOM_DUMP"); dump != nullptr && *dump != '\0') {
                std::ofstream out(dump, std::ios::app);  // the native trace, for inspection
                for (const auto& st : native) out << st.op << " = " << st.result << "\n";
            }
            std::cout << "[ random   ] " << ops.size() << " ops, " << native.size() << " steps, " << failed
                      << " returned an error\n";
        }
        std::string rep = compare(native, mounted);
        if (rep.empty()) {
            Trace a;
            Trace b;
            {
                Recorder r(roots.native, a, pair.start());
                r.set_blocks(false);
                snapshot(r, "");
            }
            {
                Recorder r(roots.backing, b, pair.start());
                r.set_blocks(false);
                snapshot(r, "");
            }
            rep = compare(a, b);
            if (!rep.empty()) rep = "final tree differs: " + rep;
        }
        if (report != nullptr) *report = rep;
        if (steps != nullptr && !rep.empty()) {
            // Keep only the ops up to the one whose steps hold the divergence.
            const auto pos = rep.find("at step ");
            const std::size_t step =
                pos == std::string::npos ? native.size() : std::stoul(rep.substr(pos + 8));
            std::size_t last = 0;
            for (std::size_t i = 0; i < steps->size(); ++i) {
                if ((*steps)[i] <= step) last = i;
            }
            steps->resize(last + 1);
        }
        return !rep.empty();
    };
    for (long round = 0; round < rounds; ++round) {
        const auto ops = generate_ops(seed + static_cast<std::uint64_t>(round), count);
        std::string report;
        std::vector<std::size_t> steps;
        if (!diverges(ops, &report, &steps)) continue;
        std::vector<RandomOp> prefix(ops.begin(), ops.begin() + static_cast<std::ptrdiff_t>(steps.size()));
        const auto minimal = shrink(
            prefix, [&](const std::vector<RandomOp>& c) { return diverges(c, nullptr, nullptr); },
            static_cast<int>(env_long("POSIX_SHRINK_BUDGET", 400)));
        std::string min_report;
        diverges(minimal, &min_report, nullptr);
        std::ostringstream repro;
        repro << "seed " << seed + static_cast<std::uint64_t>(round) << " (" << count << " ops) diverged:\n"
              << report << "minimal reproduction (" << minimal.size() << " of " << prefix.size()
              << " ops):\n";
        for (const auto& op : minimal) repro << "    " << describe(op) << "\n";
        Trace shown;
        {
            const auto roots = pair.fresh("repro");
            Recorder r(roots.native, shown, pair.start());
            run_ops(r, minimal);
        }
        repro << "  as syscalls (native results):\n";
        for (const auto& s : shown) repro << "    " << s.op << " = " << s.result << "\n";
        repro << "  divergence of the minimal sequence:\n" << min_report;
        ADD_FAILURE() << repro.str();
        break;
    }
    EXPECT_TRUE(pair.daemon_alive()) << "the daemon died:\n" << pair.daemon_log();
}

// readdir and stat through the mount report the backing file's inode numbers.
TEST_P(OnMount, SourceInodeNumbers) {
    Pair pair(variants()[GetParam()]);
    const auto roots = pair.fresh("ino");
    Trace t;
    Recorder r(roots.mounted, t, pair.start());
    make_file(r, "f", "x");
    r.mkdir("d");
    r.symlink("f", "l");
    r.link("f", "h");
    r.mknod("p", S_IFIFO | 0644);
    DIR* d = ::opendir(roots.mounted.c_str());
    ASSERT_NE(d, nullptr);
    int checked = 0;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        struct stat via_mount {};
        struct stat backing {};
        ASSERT_EQ(::lstat((roots.mounted + "/" + name).c_str(), &via_mount), 0) << name;
        ASSERT_EQ(::lstat((roots.backing + "/" + name).c_str(), &backing), 0) << name;
        EXPECT_EQ(e->d_ino, backing.st_ino) << "readdir d_ino of " << name;
        EXPECT_EQ(via_mount.st_ino, backing.st_ino) << "st_ino of " << name;
        ++checked;
    }
    ::closedir(d);
    EXPECT_EQ(checked, 5);
}

// The mount root answers the reserved user.splicefs.stats name and does not list it.
TEST_P(OnMount, StatsXattrIsReservedAndHidden) {
    const auto& variant = variants()[GetParam()];
    if (!variant.is_splicefs) GTEST_SKIP() << "splicefs only";
    Pair pair(variant);
    const std::string name = "user.splicefs.stats";
    std::string buf(65536, '\0');
    const ssize_t n = ::getxattr(pair.mountpoint().c_str(), name.c_str(), buf.data(), buf.size());
    EXPECT_GT(n, 0) << "getxattr(mount root, " << name << "): " << errname(errno);
    EXPECT_LT(::getxattr(pair.native().c_str(), name.c_str(), buf.data(), buf.size()), 0);
    const ssize_t l = ::listxattr(pair.mountpoint().c_str(), buf.data(), buf.size());
    ASSERT_GE(l, 0);
    EXPECT_EQ(std::string(buf.data(), static_cast<std::size_t>(l)).find(name), std::string::npos);
    // Not answered below the root, and not settable.
    const auto roots = pair.fresh("sub");
    EXPECT_LT(::getxattr(roots.mounted.c_str(), name.c_str(), buf.data(), buf.size()), 0);
    EXPECT_LT(::setxattr(pair.mountpoint().c_str(), name.c_str(), "x", 1, 0), 0);
}

INSTANTIATE_TEST_SUITE_P(Posix, OnMount, ::testing::Range<std::size_t>(0, variants().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& p) {
                             return sanitize(variants()[p.param].name);
                         });

}  // namespace
}  // namespace posixtest

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::umask(022);  // both sides must see the same umask, whatever the caller's is
    return RUN_ALL_TESTS();
}
