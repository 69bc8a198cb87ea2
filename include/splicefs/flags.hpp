#pragma once
// Typed splice(2) flags. The enumerators carry the kernel's SPLICE_F_* values (checked by a
// static_assert in src/splice/flags_check.cpp); lower-case names because glibc defines the
// SPLICE_F_* spellings as macros.
namespace splicefs::splice {

enum class Flags : unsigned {
    none = 0,
    move = 0x01,      // SPLICE_F_MOVE: a hint only; the kernel mostly copies anyway
    nonblock = 0x02,  // SPLICE_F_NONBLOCK: pipe operations do not block (EAGAIN instead)
    more = 0x04,      // SPLICE_F_MORE: more data follows (MSG_MORE / TCP_CORK on sockets)
    gift = 0x08,      // SPLICE_F_GIFT: vmsplice(2) only; harmless elsewhere
};

constexpr Flags operator|(Flags a, Flags b) noexcept {
    return static_cast<Flags>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr Flags operator&(Flags a, Flags b) noexcept {
    return static_cast<Flags>(static_cast<unsigned>(a) & static_cast<unsigned>(b));
}
constexpr Flags operator^(Flags a, Flags b) noexcept {
    return static_cast<Flags>(static_cast<unsigned>(a) ^ static_cast<unsigned>(b));
}
constexpr Flags operator~(Flags a) noexcept {
    return static_cast<Flags>(~static_cast<unsigned>(a) & 0x0Fu);
}
constexpr Flags& operator|=(Flags& a, Flags b) noexcept {
    return a = a | b;
}
constexpr Flags& operator&=(Flags& a, Flags b) noexcept {
    return a = a & b;
}
constexpr Flags& operator^=(Flags& a, Flags b) noexcept {
    return a = a ^ b;
}

// True when any bit of `bit` is set in `f`.
constexpr bool has(Flags f, Flags bit) noexcept {
    return (f & bit) != Flags::none;
}
constexpr unsigned to_underlying(Flags f) noexcept {
    return static_cast<unsigned>(f);
}

}  // namespace splicefs::splice
