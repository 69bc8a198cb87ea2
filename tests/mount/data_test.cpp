// Byte-exact data through the mount, compared with the backing file, for sizes around the
// page and request boundaries, with splice on, off, and without the page cache.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <tuple>

#include "mount_fixture.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

struct Variant {
    const char* name;
    std::vector<std::string> args;
};

const Variant kVariants[] = {
    {"splice", {}},
    {"nosplice", {"--no-splice"}},
    {"nocache", {"--cache=never"}},
};

constexpr std::size_t kMiB = 1 << 20;
const std::size_t kSizes[] = {0, 1, 4095, 4096, 65537, kMiB, 16 * kMiB + 7};

class DataTest : public MountTest, public ::testing::WithParamInterface<std::tuple<int, std::size_t>> {
protected:
    std::vector<std::string> mount_args() const override { return kVariants[std::get<0>(GetParam())].args; }
    std::size_t size() const { return std::get<1>(GetParam()); }
    std::uint64_t seed(std::uint64_t salt) const { return size() * 1000003u + salt; }
};

// Splits [0, n) into chunks of random length and returns them in random order.
std::vector<std::pair<std::size_t, std::size_t>> shuffled_chunks(std::size_t n, std::mt19937_64& rng) {
    std::vector<std::pair<std::size_t, std::size_t>> chunks;
    std::uniform_int_distribution<std::size_t> len(1, 300 * 1024 + 13);
    for (std::size_t off = 0; off < n;) {
        const std::size_t l = std::min(len(rng), n - off);
        chunks.emplace_back(off, l);
        off += l;
    }
    std::shuffle(chunks.begin(), chunks.end(), rng);
    return chunks;
}

void expect_same_bytes(const Bytes& expected, const Bytes& actual, const char* where) {
    ASSERT_EQ(expected.size(), actual.size()) << where;
    const auto at = first_difference(expected, actual);
    EXPECT_EQ(at, expected.size()) << where << ": first difference at byte " << at;
}

TEST_P(DataTest, WriteAtRandomOffsetsThenReadBack) {
    SCOPED_TRACE("seed " + std::to_string(seed(1)));
    std::mt19937_64 rng(seed(1));
    Bytes expected = random_bytes(seed(2), size());
    {
        const Fd fd = open_fd(m("file"), O_RDWR | O_CREAT | O_TRUNC);
        ASSERT_TRUE(fd.valid()) << std::strerror(errno);
        for (const auto& [off, len] : shuffled_chunks(size(), rng)) {
            pwrite_all(fd.get(), expected.data() + off, len, static_cast<off_t>(off));
        }
        // A few overwrites of random ranges with new data.
        for (int i = 0; i < 8 && size() > 0; ++i) {
            const std::size_t off = std::uniform_int_distribution<std::size_t>(0, size() - 1)(rng);
            const std::size_t len = std::uniform_int_distribution<std::size_t>(1, size() - off)(rng);
            const Bytes patch = random_bytes(seed(100 + static_cast<std::uint64_t>(i)), len);
            pwrite_all(fd.get(), patch, static_cast<off_t>(off));
            std::copy(patch.begin(), patch.end(), expected.begin() + static_cast<std::ptrdiff_t>(off));
        }
        ASSERT_EQ(fsync(fd.get()), 0) << std::strerror(errno);
        expect_same_bytes(expected, pread_exact(fd.get(), size() + 1, 0), "same fd, through the mount");
    }
    EXPECT_EQ(static_cast<std::size_t>(lstat_of(m("file")).st_size), size());
    EXPECT_EQ(static_cast<std::size_t>(lstat_of(b("file")).st_size), size());
    expect_same_bytes(expected, read_file(m("file")), "reopened through the mount");
    expect_same_bytes(expected, read_file(b("file")), "backing file");
}

TEST_P(DataTest, ReadBackingFileAtRandomOffsets) {
    SCOPED_TRACE("seed " + std::to_string(seed(3)));
    std::mt19937_64 rng(seed(3));
    const Bytes expected = random_bytes(seed(4), size());
    write_file(b("file"), expected);
    expect_same_bytes(expected, read_file(m("file")), "sequential read through the mount");
    const Fd fd = open_fd(m("file"), O_RDONLY);
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    for (int i = 0; i < 32; ++i) {
        const std::size_t off = std::uniform_int_distribution<std::size_t>(0, size() + 10)(rng);
        const std::size_t len = std::uniform_int_distribution<std::size_t>(1, 2 * kMiB + 3)(rng);
        const Bytes got = pread_exact(fd.get(), len, static_cast<off_t>(off));
        const std::size_t begin = std::min(off, size());
        const std::size_t end = std::min(off + len, size());
        const Bytes want(expected.begin() + static_cast<std::ptrdiff_t>(begin),
                         expected.begin() + static_cast<std::ptrdiff_t>(end));
        SCOPED_TRACE("pread offset " + std::to_string(off) + " length " + std::to_string(len));
        expect_same_bytes(want, got, "random pread through the mount");
    }
}

TEST_P(DataTest, SequentialBigWritesLandInBacking) {
    const Bytes expected = random_bytes(seed(5), size());
    {
        Fd fd = open_fd(m("seq"), O_WRONLY | O_CREAT | O_TRUNC);
        ASSERT_TRUE(fd.valid()) << std::strerror(errno);
        std::size_t done = 0;
        while (done < size()) {
            const std::size_t n = std::min(kMiB, size() - done);
            const ssize_t w = write(fd.get(), expected.data() + done, n);
            ASSERT_GT(w, 0) << std::strerror(errno);
            done += static_cast<std::size_t>(w);
        }
        ASSERT_EQ(close(fd.release()), 0) << std::strerror(errno);  // close reports flush errors
    }
    expect_same_bytes(expected, read_file(b("seq")), "backing file");
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<int, std::size_t>>& info) {
    return std::string(kVariants[std::get<0>(info.param)].name) + "_" +
           std::to_string(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Sizes, DataTest,
                         ::testing::Combine(::testing::Range(0, static_cast<int>(std::size(kVariants))),
                                            ::testing::ValuesIn(kSizes)),
                         param_name);

}  // namespace
}  // namespace splicefs::test
