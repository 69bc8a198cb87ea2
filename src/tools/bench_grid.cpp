#include "bench_grid.hpp"

#include <cstddef>

namespace splicefs::tools {

namespace {

constexpr std::size_t K = 1024;
constexpr std::size_t M = K * K;

void add(std::vector<Case>& out, Dest d, Receive rx, std::size_t pipe,
         const std::vector<std::size_t>& chunks) {
    for (const std::size_t chunk : chunks)
        for (const Method m : kMethods) out.push_back({d, rx, pipe, chunk, m});
}

}  // namespace

std::vector<Case> sweep_cases(bool quick) {
    std::vector<Case> out;
    const std::vector<std::size_t> chunks =
        quick ? std::vector<std::size_t>{64 * K, M}
              : std::vector<std::size_t>{4 * K, 16 * K, 64 * K, 256 * K, M, 4 * M};
    for (const Dest d : kDests) {
        add(out, d, Receive::splice, M, chunks);
        out.push_back({d, Receive::splice, M, 0, Method::library});
    }
    for (const Dest d : {Dest::tcp, Dest::unix_stream, Dest::pipe}) {
        if (quick && d != Dest::tcp) continue;
        add(out, d, Receive::read, M, chunks);
        out.push_back({d, Receive::read, M, 0, Method::library});
    }
    for (const std::size_t pipe : {64 * K, 256 * K}) {
        if (quick && pipe != 64 * K) continue;
        for (const Dest d : {Dest::tcp, Dest::unix_stream, Dest::pipe}) {
            if (quick && d != Dest::tcp) continue;
            add(out, d, Receive::splice, pipe, {64 * K, M});
        }
    }
    return out;
}

}  // namespace splicefs::tools
