#include "fs/handoff.hpp"

#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>
#include <utility>

namespace splicefs::fs {

namespace {
[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

void* map(int fd) {
    void* p = ::mmap(nullptr, sizeof(HandoffRecord), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) throw_errno("mmap of the failover handoff record");
    return p;
}
}  // namespace

bool HandoffRecord::save_request(std::span<const std::byte> bytes, bool offers_resend) noexcept {
    if (bytes.size() > request.size()) return false;
    std::memcpy(request.data(), bytes.data(), bytes.size());
    request_len = static_cast<std::uint32_t>(bytes.size());
    resend_offered.store(offers_resend ? 1U : 0U, std::memory_order_relaxed);
    init_state.store(static_cast<std::uint32_t>(InitState::RequestSaved), std::memory_order_release);
    return true;
}

bool HandoffRecord::save_reply(std::span<const std::byte> bytes) noexcept {
    if (bytes.size() > reply.size()) return false;
    std::memcpy(reply.data(), bytes.data(), bytes.size());
    reply_len = static_cast<std::uint32_t>(bytes.size());
    init_state.store(static_cast<std::uint32_t>(InitState::ReplySaved), std::memory_order_release);
    return true;
}

HandoffArea HandoffArea::create() {
    // No MFD_CLOEXEC: a live upgrade hands it to the next binary by number.
    sys::UniqueFd fd(::memfd_create("splicefs-handoff", 0));
    if (!fd) throw_errno("memfd_create for the failover handoff record");
    if (::ftruncate(fd.get(), sizeof(HandoffRecord)) != 0) throw_errno("ftruncate of the handoff record");
    // Placement into the mapping: munmap'ed by the destructor, never deleted.
    auto* record = new (map(fd.get())) HandoffRecord{};  // NOLINT(cppcoreguidelines-owning-memory)
    return {std::move(fd), record};                      // zeroed memfd pages; construct the atomics
}

HandoffArea HandoffArea::adopt(int raw_fd) {
    sys::UniqueFd fd(raw_fd);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("the inherited handoff record");
    if (static_cast<std::size_t>(st.st_size) != sizeof(HandoffRecord)) {
        throw std::system_error(EPROTO, std::generic_category(),
                                "the inherited handoff record has another size");
    }
    // Same layout (the handoff version was checked before the exec): use it as it is.
    auto* record = std::launder(static_cast<HandoffRecord*>(map(fd.get())));
    return {std::move(fd), record};
}

HandoffArea::HandoffArea(HandoffArea&& other) noexcept
    : fd_(std::move(other.fd_)), record_(std::exchange(other.record_, nullptr)) {}

HandoffArea::~HandoffArea() {
    if (record_ != nullptr) ::munmap(record_, sizeof(HandoffRecord));
}

}  // namespace splicefs::fs
