#include "fs/survival_area.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace splicefs::fs::survival {

namespace {
constexpr std::size_t kAlign = 4096;
// Requests in flight at once: libfuse's threads plus the offload pool, with a wide margin.
constexpr std::uint32_t kMaxInflight = 4096;

std::size_t round_up(std::size_t n) {
    return (n + kAlign - 1) / kAlign * kAlign;
}

void* map(int fd, std::size_t size) {
    void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap survival area");
    return base;
}
}  // namespace

Area::Area(sys::UniqueFd fd, void* base, std::size_t size) noexcept
    : fd_(std::move(fd)), base_(base), size_(size) {}

Area::Area(Area&& other) noexcept
    : fd_(std::move(other.fd_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      owns_stats_(std::exchange(other.owns_stats_, false)) {}

Area& Area::operator=(Area&& other) noexcept {
    if (this != &other) {
        unmap();
        fd_ = std::move(other.fd_);
        base_ = std::exchange(other.base_, nullptr);
        size_ = std::exchange(other.size_, 0);
        owns_stats_ = std::exchange(other.owns_stats_, false);
    }
    return *this;
}

Area::~Area() {
    unmap();
}

void Area::unmap() noexcept {
    if (base_ == nullptr) return;
    // The counters stay in the memfd; only this process's heap copies of the strings go.
    if (owns_stats_) std::destroy_at(&stats());
    ::munmap(base_, size_);
    base_ = nullptr;
}

// The layout of format kFormatVersion (x86-64, libstdc++). A failing assertion means the layout
// changed: bump kFormatVersion (version 3 had a 13,040-byte Stats), then update the sizes here.
#if defined(__x86_64__) && defined(__GLIBCXX__)
static_assert(kFormatVersion == 4);
static_assert(sizeof(Stats) == 13'080, "Stats changed: bump kFormatVersion");
static_assert(sizeof(Header) == 96 && sizeof(NodeSlot) == 192 && sizeof(FdSlot) == 8 &&
                  sizeof(InflightSlot) == 48,
              "the survival area's layout changed: bump kFormatVersion");
#endif

Area Area::create(std::size_t max_fds) {
    max_fds = std::clamp<std::size_t>(max_fds, 64, std::size_t{1} << 24);
    // Known inodes may outnumber fds (evicted ones are reopened by handle): four per fd.
    const auto max_nodes =
        static_cast<std::uint32_t>(std::max<std::size_t>(4 * max_fds, std::size_t{1} << 16));
    Header layout{};
    layout.magic = Header::kMagic;
    layout.version = kFormatVersion;
    layout.stats_size = sizeof(Stats);
    layout.stats_offset = round_up(sizeof(Header));
    layout.nodes_offset = layout.stats_offset + round_up(sizeof(Stats));
    layout.fds_offset = layout.nodes_offset + round_up(max_nodes * sizeof(NodeSlot));
    layout.inflight_offset = layout.fds_offset + round_up(max_fds * sizeof(FdSlot));
    layout.total_size = layout.inflight_offset + round_up(kMaxInflight * sizeof(InflightSlot));
    layout.max_nodes = max_nodes;
    layout.max_fds = static_cast<std::uint32_t>(max_fds);
    layout.max_inflight = kMaxInflight;

    sys::UniqueFd fd{::memfd_create("splicefs-survival", MFD_CLOEXEC)};
    if (!fd) throw std::system_error(errno, std::generic_category(), "memfd_create survival area");
    if (::ftruncate(fd.get(), static_cast<off_t>(layout.total_size)) != 0)
        throw std::system_error(errno, std::generic_category(), "size survival area");
    const auto size = static_cast<std::size_t>(layout.total_size);
    void* base = map(fd.get(), size);
    Area area(std::move(fd), base, size);
    // The memfd reads as zeros: every slot starts free. The header is written last but one,
    // `ready` last, so an area whose creator died half-way is refused by adopt().
    Header* header = std::construct_at(static_cast<Header*>(base));
    header->magic = layout.magic;
    header->version = layout.version;
    header->stats_size = layout.stats_size;
    header->total_size = layout.total_size;
    header->stats_offset = layout.stats_offset;
    header->nodes_offset = layout.nodes_offset;
    header->fds_offset = layout.fds_offset;
    header->inflight_offset = layout.inflight_offset;
    header->max_nodes = layout.max_nodes;
    header->max_fds = layout.max_fds;
    header->max_inflight = layout.max_inflight;
    header->next_node_id.store(2, std::memory_order_relaxed);  // 1 is the root's
    std::construct_at(reinterpret_cast<Stats*>(static_cast<char*>(base) + layout.stats_offset));
    area.owns_stats_ = true;
    header->ready.store(1, std::memory_order_release);
    return area;
}

Area Area::adopt(int memfd) {
    sys::UniqueFd fd{memfd};
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw std::system_error(errno, std::generic_category(), "survival area");
    if (static_cast<std::size_t>(st.st_size) < sizeof(Header))
        throw std::runtime_error("the inherited survival area is too small");
    const auto size = static_cast<std::size_t>(st.st_size);
    void* base = map(fd.get(), size);
    Area area(std::move(fd), base, size);
    const Header& h = area.header();
    if (h.magic != Header::kMagic || h.ready.load(std::memory_order_acquire) != 1)
        throw std::runtime_error("the inherited fd is not a survival area");
    if (h.version != kFormatVersion || h.stats_size != sizeof(Stats) || h.total_size != size)
        throw std::runtime_error("the survival area has another format (version " +
                                 std::to_string(h.version) + ", this binary reads " +
                                 std::to_string(kFormatVersion) + ")");
    // The counters are kept; the strings pointed into the old process's memory: fresh ones
    // (Fs sets them again at construction).
    Stats& s = area.stats();
    std::construct_at(&s.backing_fs);
    std::construct_at(&s.watch_reason);
    std::construct_at(&s.failover_off_reason);
    std::construct_at(&s.handoff_version);
    area.owns_stats_ = true;
    return area;
}

Stats& Area::stats() const noexcept {
    return *std::launder(reinterpret_cast<Stats*>(static_cast<char*>(base_) + header().stats_offset));
}

std::span<NodeSlot> Area::nodes() const noexcept {
    return {reinterpret_cast<NodeSlot*>(static_cast<char*>(base_) + header().nodes_offset),
            header().max_nodes};
}

std::span<FdSlot> Area::fds() const noexcept {
    return {reinterpret_cast<FdSlot*>(static_cast<char*>(base_) + header().fds_offset), header().max_fds};
}

std::span<FdSlot> Area::used_fds() const noexcept {
    return fds().first(
        std::min<std::size_t>(header().fd_high_water.load(std::memory_order_acquire), header().max_fds));
}

std::span<InflightSlot> Area::inflight() const noexcept {
    return {reinterpret_cast<InflightSlot*>(static_cast<char*>(base_) + header().inflight_offset),
            header().max_inflight};
}

}  // namespace splicefs::fs::survival
