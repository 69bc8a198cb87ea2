#include "bench_report.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <system_error>
#include <tuple>

#include <fmt/format.h>

#include "splicefs/copy.hpp"

extern char** environ;

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

Spread measure(const Row& r, const Metric& f) {
    std::vector<double> v;
    v.reserve(r.passes.size());
    for (const auto& p : r.passes) v.push_back(f(p));
    return spread(std::move(v));
}

double mib(const PassResult& p) {
    return static_cast<double>(p.bytes) / double(1 << 20);
}
const Metric kRate = [](const PassResult& p) { return static_cast<double>(p.bytes) / 1e6 / p.seconds; };
const Metric kSenderCpu = [](const PassResult& p) { return p.sender_cpu * 1e6 / mib(p); };
const Metric kReceiverCpu = [](const PassResult& p) { return p.receiver_cpu * 1e6 / mib(p); };

// "4K", "64K", "1M": the sizes of the grid, short enough for a table column.
std::string short_size(std::size_t n) {
    if (n == 0) return "default";
    if (n % (std::size_t{1} << 20) == 0) return fmt::format("{}M", n >> 20);
    if (n % 1024 == 0) return fmt::format("{}K", n >> 10);
    return fmt::format("{}", n);
}

std::string receiver_label(const Case& c) {
    return has_receiver(c.dest) ? std::string(name(c.receive)) : "–";
}

double median_load(const Row& r) {
    return spread(r.load).median;
}

// Rows that differ only in method and chunk: one destination, receiver mode and pipe size.
using GroupKey = std::tuple<Dest, Receive, std::size_t>;

// What the library's rule sees for each bench destination (tcp here is always loopback).
splice::Target target_kind(const GroupKey& key) {
    switch (std::get<0>(key)) {
        case Dest::tcp:
            return splice::Target::local_tcp;
        case Dest::unix_stream:
            return splice::Target::socket;
        case Dest::pipe:
            return splice::Target::pipe;
        case Dest::file:
            return splice::Target::file;
        case Dest::null:
            return splice::Target::other;
    }
    return splice::Target::other;
}

// The bench row that does what a library method does (copy_file_range has none: rows of the file
// destination compare it with splice, which is the same in-kernel copy on ext4).
Method bench_method(splice::CopyMethod m) {
    switch (m) {
        case splice::CopyMethod::read_write:
            return Method::read_send;
        case splice::CopyMethod::sendfile:
            return Method::sendfile;
        case splice::CopyMethod::splice:
        case splice::CopyMethod::copy_file_range:
            return Method::splice;
    }
    return Method::splice;
}
GroupKey group_of(const Row& r) {
    return {r.c.dest, has_receiver(r.c.dest) ? r.c.receive : Receive::splice, r.c.pipe};
}

std::string best_per_group(const std::vector<Row>& rows) {
    std::map<GroupKey, std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < rows.size(); ++i) groups[group_of(rows[i])].push_back(i);
    std::string out =
        "\n| dest | receiver | pipe | best row: method, chunk, MB/s | best read+send/write | best sendfile | "
        "best splice | library default: row, method, MB/s vs the best rows; sender CPU µs/MiB vs the best "
        "row of its method "
        "|\n|---|---|---|---|---|---|---|---|\n";
    for (const auto& group : groups) {
        // Named, not structured bindings: clang-tidy 14 (clang 14) cannot capture those.
        const auto& key = group.first;
        const auto& idx = group.second;
        const auto rate = [&](std::size_t i) { return measure(rows[i], kRate).median; };
        const auto best_of = [&](auto pred) {
            std::size_t best = rows.size();
            for (const auto i : idx)
                if (pred(rows[i]) && (best == rows.size() || rate(i) > rate(best))) best = i;
            return best;
        };
        const std::size_t best = best_of([](const Row& r) { return r.c.method != Method::library; });
        if (best == rows.size()) continue;
        const auto cell = [&](Method m) {
            const std::size_t b = best_of([m](const Row& r) { return r.c.method == m; });
            if (b == rows.size()) return std::string("–");
            return fmt::format("#{} {}: {:.0f}", b + 1, short_size(rows[b].c.chunk), rate(b));
        };
        const std::size_t lib = best_of([](const Row& r) { return r.c.method == Method::library; });
        // The library row against the best row of any method and of the method it picked for
        // this destination (is its default chunk as good as the best one?), by median; by best
        // pass (the least disturbed one on a busy machine); and by sender CPU per MiB.
        std::string lib_cell = "–";
        const auto picked = splice::choose(target_kind(key));
        const auto same_method = [&](const Row& r) { return r.c.method == bench_method(picked); };
        const std::size_t same = best_of(same_method);
        if (lib != rows.size() && same != rows.size()) {
            const auto cpu = [&](std::size_t i) { return measure(rows[i], kSenderCpu).median; };
            const auto peak = [&](std::size_t i) { return measure(rows[i], kRate).max; };
            double same_peak = 0;
            for (const auto i : idx)
                if (same_method(rows[i])) same_peak = std::max(same_peak, peak(i));
            lib_cell = fmt::format(
                "#{} {}: {:.0f} ({:.0f} % of best, {:.0f} % of best {}); best pass {:.0f} % of the fastest "
                "{} "
                "pass; sender CPU {:.0f} vs {:.0f}",
                lib + 1, splice::to_string(picked), rate(lib), 100 * rate(lib) / rate(best),
                100 * rate(lib) / rate(same), name(rows[same].c.method, rows[same].c.dest),
                100 * peak(lib) / same_peak, name(rows[same].c.method, rows[same].c.dest), cpu(lib),
                cpu(same));
        }
        const Row& b = rows[best];
        out += fmt::format("| {} | {} | {} | #{} {} {}: {:.0f} | {} | {} | {} | {} |\n", name(b.c.dest),
                           receiver_label(b.c), short_size(b.c.pipe), best + 1, name(b.c.method, b.c.dest),
                           short_size(b.c.chunk), rate(best), cell(Method::read_send), cell(Method::sendfile),
                           cell(Method::splice), lib_cell);
    }
    return out;
}

}  // namespace

std::string markdown(const BenchInfo& info, const std::vector<Row>& rows) {
    std::string out = fmt::format(
        "splice-bench: {} MiB per pass from a page-cache-warm file, {} passes per row (medians, min–max); "
        "kernel {}, {} CPUs, pipe-max-size {}; load average at start {}, at end {}; {:.0f} s\n"
        "CPU: the thread's CPU time (CLOCK_THREAD_CPUTIME_ID) per MiB moved; on loopback the sender's "
        "includes the TCP receive softirq it runs.\n\n",
        info.size >> 20, info.passes, info.kernel, info.cpus, short_size(info.pipe_max), info.load_start,
        info.load_end, info.seconds);
    out +=
        "| # | dest | receiver | pipe | chunk | method | MB/s median | MB/s min–max | sender CPU µs/MiB | "
        "sender min–max | receiver CPU µs/MiB | receiver min–max | load |\n";
    out += "|---:|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        const Spread rate = measure(r, kRate);
        const Spread snd = measure(r, kSenderCpu);
        const bool rx = has_receiver(r.c.dest);
        const Spread rcv = measure(r, kReceiverCpu);
        out += fmt::format(
            "| {} | {} | {} | {} | {} | {} | {:.0f} | {:.0f}–{:.0f} | {:.0f} | {:.0f}–{:.0f} | {} | {} | "
            "{:.1f} |\n",
            i + 1, name(r.c.dest), receiver_label(r.c), short_size(r.c.pipe), short_size(r.c.chunk),
            name(r.c.method, r.c.dest), rate.median, rate.min, rate.max, snd.median, snd.min, snd.max,
            rx ? fmt::format("{:.0f}", rcv.median) : "–",
            rx ? fmt::format("{:.0f}–{:.0f}", rcv.min, rcv.max) : "–", median_load(r));
    }
    if (rows.size() > 3) out += best_per_group(rows);
    return out;
}

std::string json(const BenchInfo& info, const std::vector<Row>& rows) {
    const auto sp = [](const Spread& s) {
        return fmt::format("{{\"median\": {:.4f}, \"min\": {:.4f}, \"max\": {:.4f}}}", s.median, s.min,
                           s.max);
    };
    std::string out = fmt::format(
        "{{\n  \"kernel\": \"{}\",\n  \"cpus\": {},\n  \"size\": {},\n  \"passes\": {},\n  \"pipe_max\": "
        "{},\n"
        "  \"load_start\": \"{}\",\n  \"load_end\": \"{}\",\n  \"seconds\": {:.1f},\n  \"results\": [\n",
        info.kernel, info.cpus, info.size, info.passes, info.pipe_max, info.load_start, info.load_end,
        info.seconds);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        std::string passes;
        for (const auto& p : r.passes) {
            if (!passes.empty()) passes += ", ";
            passes +=
                fmt::format("{{\"seconds\": {:.6f}, \"sender_cpu_s\": {:.6f}, \"receiver_cpu_s\": {:.6f}}}",
                            p.seconds, p.sender_cpu, p.receiver_cpu);
        }
        out += fmt::format(
            "    {{\"row\": {}, \"dest\": \"{}\", \"receiver\": \"{}\", \"pipe\": {}, \"chunk\": {}, "
            "\"method\": \"{}\",\n     \"mb_per_s\": {}, \"sender_cpu_us_per_mib\": {}, "
            "\"receiver_cpu_us_per_mib\": {}, \"load\": {:.2f},\n     \"passes\": [{}]}}{}\n",
            i + 1, name(r.c.dest), has_receiver(r.c.dest) ? name(r.c.receive) : "none", r.c.pipe, r.c.chunk,
            name(r.c.method, r.c.dest), sp(measure(r, kRate)), sp(measure(r, kSenderCpu)),
            sp(measure(r, kReceiverCpu)), median_load(r), passes, i + 1 < rows.size() ? "," : "");
    }
    out += "  ]\n}\n";
    return out;
}

namespace {

int run_gnuplot(const std::string& script) {
    const char* argv[] = {"gnuplot", script.c_str(), nullptr};
    pid_t pid = 0;
    // posix_spawn's argv is char* const[] for C compatibility; gnuplot does not modify it.
    const int err =
        ::posix_spawnp(&pid, "gnuplot", nullptr, nullptr, const_cast<char* const*>(argv), environ);
    if (err != 0) return -err;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -errno;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace

bool plot(const BenchInfo& info, const std::vector<Row>& rows, const std::string& stem) {
    // Panels: every destination with the receiver splicing and the largest pipe, then the socket
    // and pipe destinations with a read() receiver. Series: one per method, MB/s against chunk.
    std::size_t pipe = 0;
    for (const auto& r : rows) pipe = std::max(pipe, r.c.pipe);
    struct Panel {
        Dest dest;
        Receive receive;
    };
    std::vector<Panel> panels;
    for (const Dest d : kDests) panels.push_back({d, Receive::splice});
    for (const Dest d : {Dest::tcp, Dest::unix_stream, Dest::pipe}) panels.push_back({d, Receive::read});

    std::ofstream dat(stem + ".dat");
    std::string script = fmt::format(
        "set terminal pngcairo size 1500,900 noenhanced font \",9\"\nset output \"{}.png\"\n"
        "set multiplot layout 2,4 title \"splice-bench --sweep: MB/s (median, bars min-max) by bytes per "
        "call; "
        "kernel {}, {} MiB per pass, {} passes; {} pipes; load {} -> {}\"\n"
        "set logscale x 2\nset format x \"%.0b%B\"\nset grid\nset key top left\nset yrange [0:*]\n"
        "set xlabel \"chunk (bytes per call)\"\nset ylabel \"MB/s\"\n",
        stem, info.kernel, info.size >> 20, info.passes, short_size(pipe), info.load_start, info.load_end);
    int block = 0;
    for (const auto& panel : panels) {
        std::vector<std::string> series;
        for (const Method m : kMethods) {
            std::vector<const Row*> pts;
            for (const auto& r : rows)
                if (r.c.dest == panel.dest && r.c.method == m && r.c.pipe == pipe && r.c.chunk != 0 &&
                    (!has_receiver(r.c.dest) || r.c.receive == panel.receive))
                    pts.push_back(&r);
            if (pts.empty()) continue;
            std::sort(pts.begin(), pts.end(),
                      [](const Row* a, const Row* b) { return a->c.chunk < b->c.chunk; });
            dat << "# " << name(panel.dest) << ' ' << name(m, panel.dest) << '\n';
            for (const Row* r : pts) {
                const Spread s = measure(*r, kRate);
                dat << fmt::format("{} {:.1f} {:.1f} {:.1f}\n", r->c.chunk, s.median, s.min, s.max);
            }
            dat << "\n\n";
            series.push_back(fmt::format("\"{}.dat\" index {} using 1:2:3:4 with yerrorlines title \"{}\"",
                                         stem, block++, name(m, panel.dest)));
        }
        if (series.empty()) continue;
        const std::string rx =
            has_receiver(panel.dest) ? fmt::format(", receiver {}", name(panel.receive)) : "";
        script += fmt::format("set title \"{}{}\"\nplot ", name(panel.dest), rx);
        for (std::size_t i = 0; i < series.size(); ++i) script += (i ? ", " : "") + series[i];
        script += '\n';
    }
    script += "unset multiplot\n";
    dat.close();
    std::ofstream(stem + ".gp") << script;
    const int rc = run_gnuplot(stem + ".gp");
    if (rc != 0) {
        // stderr is the only place to say it; a failed write there has nowhere else to go.
        (void)std::fprintf(stderr, "splice-bench: no plot: gnuplot %s (package gnuplot-nox)\n",
                           rc < 0 ? std::generic_category().message(-rc).c_str() : "failed");
        return false;
    }
    return true;
}

}  // namespace splicefs::tools
