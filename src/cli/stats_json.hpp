#pragma once
// The counters document a splicefs mount serves (core/stats.hpp to_json()), parsed. It is a
// fixed shape, objects of integers and a few plain strings, so a tiny parser is all it takes;
// no JSON library needed.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace splicefs::cli {

struct StatsJson {
    bool is_object = false;
    bool is_string = false;
    std::int64_t number = 0;
    std::string text;               // a string value
    std::vector<std::string> keys;  // members, in document order
    std::vector<StatsJson> values;

    [[nodiscard]] const StatsJson* find(std::string_view key) const;
    // Throw std::invalid_argument when the member is missing (or not a number / a string).
    [[nodiscard]] const StatsJson& at(std::string_view key) const;
    [[nodiscard]] std::int64_t num(std::string_view key) const;
    [[nodiscard]] std::string str(std::string_view key) const;
};

// Throws std::invalid_argument with the offset and reason when `text` is not such a document
// (escapes in strings, arrays, floats and nesting deeper than 8 are refused).
[[nodiscard]] StatsJson parse_stats_json(std::string_view text);

}  // namespace splicefs::cli
