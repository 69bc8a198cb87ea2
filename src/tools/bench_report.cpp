#include "bench_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "units.hpp"

namespace splicefs::tools {

Spread spread(std::vector<double> v) {
    if (v.empty()) return {};
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    const double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
    return {median, v.front(), v.back()};
}

namespace {

using Metric = std::function<double(const PassResult&)>;

Spread measure(const MethodRuns& r, const Metric& f) {
    std::vector<double> v;
    v.reserve(r.passes.size());
    for (const auto& p : r.passes) v.push_back(f(p));
    return spread(std::move(v));
}

double chunks(const PassResult& p, std::size_t chunk) {
    return static_cast<double>(p.bytes) / static_cast<double>(chunk);
}

struct Metrics {
    Metric rate;
    Metric sender;
    Metric receiver;
};

Metrics metrics(std::size_t chunk) {
    return {[](const PassResult& p) { return static_cast<double>(p.bytes) / 1e6 / p.seconds; },
            [chunk](const PassResult& p) { return p.sender_cpu * 1e6 / chunks(p, chunk); },
            [chunk](const PassResult& p) { return p.receiver_cpu * 1e6 / chunks(p, chunk); }};
}

}  // namespace

std::string markdown(const BenchInfo& info, const std::vector<MethodRuns>& runs) {
    const std::string c = human_bytes(static_cast<double>(info.chunk));
    std::string out = fmt::format(
        "splice-bench: {} file (page cache warm) over loopback TCP, {} per call, {} passes; kernel {}, {} "
        "CPUs; "
        "splice via a {} pipe\n\n",
        human_bytes(static_cast<double>(info.size)), c, info.passes, info.kernel, info.cpus,
        human_bytes(static_cast<double>(info.splice_pipe)));
    out += fmt::format(
        "| method | MB/s median | MB/s min–max | sender CPU µs/{0} median | sender min–max | receiver CPU "
        "µs/{0} "
        "median | receiver min–max |\n",
        c);
    out += "|---|---:|---:|---:|---:|---:|---:|\n";
    const Metrics m = metrics(info.chunk);
    for (const auto& r : runs) {
        const Spread rate = measure(r, m.rate);
        const Spread snd = measure(r, m.sender);
        const Spread rcv = measure(r, m.receiver);
        out +=
            fmt::format("| {} | {:.0f} | {:.0f}–{:.0f} | {:.2f} | {:.2f}–{:.2f} | {:.2f} | {:.2f}–{:.2f} |\n",
                        name(r.method), rate.median, rate.min, rate.max, snd.median, snd.min, snd.max,
                        rcv.median, rcv.min, rcv.max);
    }
    return out;
}

std::string json(const BenchInfo& info, const std::vector<MethodRuns>& runs) {
    const auto sp = [](const Spread& s) {
        return fmt::format("{{\"median\": {:.4f}, \"min\": {:.4f}, \"max\": {:.4f}}}", s.median, s.min,
                           s.max);
    };
    std::string out = fmt::format(
        "{{\n  \"kernel\": \"{}\",\n  \"cpus\": {},\n  \"size\": {},\n  \"chunk\": {},\n  \"passes\": {},\n"
        "  \"splice_pipe\": {},\n  \"results\": [\n",
        info.kernel, info.cpus, info.size, info.chunk, info.passes, info.splice_pipe);
    const Metrics m = metrics(info.chunk);
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto& r = runs[i];
        std::string passes;
        for (const auto& p : r.passes) {
            if (!passes.empty()) passes += ", ";
            passes +=
                fmt::format("{{\"seconds\": {:.6f}, \"sender_cpu_s\": {:.6f}, \"receiver_cpu_s\": {:.6f}}}",
                            p.seconds, p.sender_cpu, p.receiver_cpu);
        }
        out += fmt::format(
            "    {{\"method\": \"{}\", \"mb_per_s\": {}, \"sender_cpu_us_per_chunk\": {}, "
            "\"receiver_cpu_us_per_chunk\": {},\n     \"passes\": [{}]}}{}\n",
            name(r.method), sp(measure(r, m.rate)), sp(measure(r, m.sender)), sp(measure(r, m.receiver)),
            passes, i + 1 < runs.size() ? "," : "");
    }
    out += "  ]\n}\n";
    return out;
}

}  // namespace splicefs::tools
