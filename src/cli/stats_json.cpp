#include "cli/stats_json.hpp"

#include <stdexcept>

namespace splicefs::cli {
namespace {

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {}

    StatsJson document() {
        StatsJson v = object();
        skip_space();
        if (pos_ != text_.size()) fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw std::invalid_argument("bad JSON at offset " + std::to_string(pos_) + ": " + what);
    }
    void skip_space() {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }
    void expect(char ch) {
        skip_space();
        if (pos_ >= text_.size() || text_[pos_] != ch) fail(std::string("expected '") + ch + "'");
        ++pos_;
    }
    bool peek(char ch) {
        skip_space();
        return pos_ < text_.size() && text_[pos_] == ch;
    }
    std::string string() {
        expect('"');
        std::string out;
        while (pos_ < text_.size() && text_[pos_] != '"') {
            if (text_[pos_] == '\\') fail("escapes are not used in counters");
            out += text_[pos_++];
        }
        expect('"');
        return out;
    }
    StatsJson number() {
        skip_space();
        StatsJson v;
        const bool negative = peek('-');
        if (negative) ++pos_;
        const std::size_t start = pos_;
        std::uint64_t n = 0;
        while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
            n = n * 10 + static_cast<std::uint64_t>(text_[pos_++] - '0');
        }
        if (pos_ == start) fail("expected a number or an object");
        v.number = negative ? -static_cast<std::int64_t>(n) : static_cast<std::int64_t>(n);
        return v;
    }
    StatsJson value() {
        if (peek('{')) return object();
        if (!peek('"')) return number();
        StatsJson v;
        v.is_string = true;
        v.text = string();
        return v;
    }
    StatsJson object() {
        if (++depth_ > kMaxDepth) fail("nested too deeply");
        expect('{');
        StatsJson v;
        v.is_object = true;
        if (!peek('}')) {
            do {
                v.keys.push_back(string());
                expect(':');
                v.values.push_back(value());
            } while (peek(',') && (++pos_, true));
        }
        expect('}');
        --depth_;
        return v;
    }

    static constexpr int kMaxDepth = 8;
    std::string_view text_;
    std::size_t pos_ = 0;
    int depth_ = 0;
};

}  // namespace

const StatsJson* StatsJson::find(std::string_view key) const {
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (keys[i] == key) return &values[i];
    }
    return nullptr;
}

const StatsJson& StatsJson::at(std::string_view key) const {
    const StatsJson* v = find(key);
    if (v == nullptr) throw std::invalid_argument("missing \"" + std::string(key) + "\"");
    return *v;
}

std::int64_t StatsJson::num(std::string_view key) const {
    const StatsJson& v = at(key);
    if (v.is_object || v.is_string)
        throw std::invalid_argument("\"" + std::string(key) + "\" is not a number");
    return v.number;
}

std::string StatsJson::str(std::string_view key) const {
    const StatsJson& v = at(key);
    if (!v.is_string) throw std::invalid_argument("\"" + std::string(key) + "\" is not a string");
    return v.text;
}

StatsJson parse_stats_json(std::string_view text) {
    return Parser(text).document();
}

}  // namespace splicefs::cli
