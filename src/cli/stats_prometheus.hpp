#pragma once
// `splicefs stats --format=prometheus`: the counters of one or more mounts in the Prometheus
// text exposition format (version 0.0.4), for node_exporter's textfile collector or any
// scraper. Every sample carries a mountpoint label; each family is written once.
#include <span>
#include <string>

namespace splicefs::cli {

struct MountCounters {
    std::string mountpoint;
    std::string json;  // its counters document; empty when the mount did not answer (up 0)
};

// Latency histogram bounds: le = 2^i microseconds for i in [0, kPrometheusMaxBucket], then
// +Inf. 2^25 us is about 34 s; the daemon's buckets beyond that only reach +Inf.
inline constexpr unsigned kPrometheusMaxBucket = 25;

// Throws std::invalid_argument when a non-empty json is not a counters document.
[[nodiscard]] std::string format_prometheus(std::span<const MountCounters> mounts);

}  // namespace splicefs::cli
