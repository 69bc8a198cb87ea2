// The serving thread's spin before a blocking receive: the adaptive window (no clock), and the
// spin itself on a pipe.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdint>

#include "core/stats.hpp"
#include "fs/receive_spin.hpp"

namespace splicefs::fs {
namespace {

constexpr std::uint64_t kMax = 200'000;
constexpr std::uint64_t kStart = SpinWindow::kStartNs;

TEST(SpinWindow, StartsClosedAndOpensWhenRequestsComeSoonAfterAReply) {
    SpinWindow w(kMax);
    EXPECT_EQ(w.window_ns(), 0U);
    w.record(50'000, false);  // came 50 us after the reply: a window would have caught it
    EXPECT_EQ(w.window_ns(), kStart);
    w.record(50'000, false);
    EXPECT_EQ(w.window_ns(), 2 * kStart);
    for (int i = 0; i < 10; ++i) w.record(kMax, false);
    EXPECT_EQ(w.window_ns(), kMax);  // doubling stops at the maximum
}

TEST(SpinWindow, ARequestCaughtWhileSpinningLeavesTheWindowAlone) {
    SpinWindow w(kMax);
    w.record(1'000, false);
    w.record(1'000, false);
    const auto before = w.window_ns();
    w.record(before / 2, false);
    EXPECT_EQ(w.window_ns(), before);
}

TEST(SpinWindow, QuietSpellsCloseIt) {
    SpinWindow w(kMax);
    for (int i = 0; i < 10; ++i) w.record(kMax, false);
    ASSERT_EQ(w.window_ns(), kMax);
    w.record(5'000'000, false);  // 5 ms of nothing: spinning was wasted
    EXPECT_EQ(w.window_ns(), kMax / 2);
    for (int i = 0; i < 10; ++i) w.record(5'000'000, false);
    EXPECT_EQ(w.window_ns(), 0U);  // below the starting window it closes rather than creep
    w.record(5'000'000, false);
    EXPECT_EQ(w.window_ns(), 0U);  // and a quiet mount stays closed
}

// Receives until the window opens again after a contended spin (each one learns nothing).
std::uint32_t rest_length(SpinWindow& w) {
    std::uint32_t rested = 0;
    while (w.window_ns() == 0 && rested < 10 * SpinWindow::kRestMax) {
        w.record(100'000, false);
        ++rested;
    }
    return rested;
}

TEST(SpinWindow, ContentionRestsItAndRepeatedContentionRestsLonger) {
    SpinWindow w(kMax);
    for (int i = 0; i < 10; ++i) w.record(kMax, false);
    ASSERT_EQ(w.window_ns(), kMax);
    w.record(3'000, true);
    for (std::uint32_t i = 0; i < SpinWindow::kRestMin; ++i) {
        EXPECT_EQ(w.window_ns(), 0U) << "receive " << i;
        w.record(100'000, false);  // while resting, nothing is learned
    }
    EXPECT_EQ(w.window_ns(), kMax);
    w.record(3'000, true);  // contended again: twice the rest
    EXPECT_EQ(rest_length(w), 2 * SpinWindow::kRestMin);
    w.record(100'000, false);  // an uncontended spin: the next rest is short again
    w.record(3'000, true);
    EXPECT_EQ(rest_length(w), SpinWindow::kRestMin);
}

TEST(SpinWindow, RestIsCapped) {
    SpinWindow w(kMax);
    for (int i = 0; i < 10; ++i) w.record(kMax, false);
    std::uint32_t rested = 0;
    for (int round = 0; round < 12; ++round) {
        w.record(3'000, true);
        rested = rest_length(w);
    }
    EXPECT_EQ(rested, SpinWindow::kRestMax);
}

struct Pipe {
    std::array<int, 2> fds{-1, -1};
    Pipe() { EXPECT_EQ(::pipe(fds.data()), 0); }
    ~Pipe() {
        for (int fd : fds)
            if (fd >= 0) ::close(fd);
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
};

TEST(ReceiveSpin, CountsCaughtRequestsAndTheTimeAnEmptyWindowSpins) {
    Pipe p;
    SpinCounters counters;
    ReceiveSpin spin(kMax, counters);
    ASSERT_EQ(::write(p.fds[1], "x", 1), 1);
    for (int i = 0; i < 20; ++i) {  // opens the window: each "request" is there at once
        spin.before_receive(p.fds[0]);
        spin.after_receive();
    }
    const std::uint64_t windows = counters.windows.load();
    EXPECT_GE(windows, 1U) << "the window never opened";
    EXPECT_EQ(counters.caught.load(), windows) << "a waiting request is caught before any yield";
    EXPECT_EQ(counters.contended.load(), 0U);
    const std::uint64_t spun_before = counters.spun_ns.load();

    char c = 0;
    ASSERT_EQ(::read(p.fds[0], &c, 1), 1);
    spin.before_receive(p.fds[0]);  // nothing to read: returns once its window has passed
    spin.after_receive();
    EXPECT_EQ(counters.windows.load(), windows + 1);
    EXPECT_EQ(counters.caught.load(), windows);
    if (counters.contended.load() == 0) {
        // Not cut short by another task: it spun its whole window (kStart: nothing made it grow).
        EXPECT_GE(counters.spun_ns.load() - spun_before, kStart);
    }
}

TEST(ReceiveSpin, AClosedWindowIsNotCounted) {
    Pipe p;
    SpinCounters counters;
    ReceiveSpin spin(kMax, counters);
    spin.before_receive(p.fds[0]);  // the window starts closed: no spin
    EXPECT_EQ(counters.windows.load(), 0U);
    EXPECT_EQ(counters.spun_ns.load(), 0U);
}

}  // namespace
}  // namespace splicefs::fs
