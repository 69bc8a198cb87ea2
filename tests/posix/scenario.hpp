#pragma once
// Scenarios are small functions over a Recorder, registered by family and name. Each runs once
// on the native directory and once on the mount; they must not branch on the side they run on.
#include <fcntl.h>
#include <sys/stat.h>

#include <functional>
#include <string>
#include <vector>

#include "recorder.hpp"

namespace posixtest {

struct Scenario {
    std::string family;
    std::string name;
    std::function<void(Recorder&)> run;
};

std::vector<Scenario>& scenarios();

struct RegisterScenario {
    RegisterScenario(std::string family, std::string name, std::function<void(Recorder&)> run) {
        scenarios().push_back({std::move(family), std::move(name), std::move(run)});
    }
};

#define POSIX_CAT2(a, b) a##b
#define POSIX_CAT(a, b) POSIX_CAT2(a, b)
// SCENARIO(family, name) { ... r is the Recorder ... }
#define SCENARIO(family, name)                                                 \
    static void POSIX_CAT(scenario_, __LINE__)(::posixtest::Recorder & r);     \
    static const ::posixtest::RegisterScenario POSIX_CAT(register_, __LINE__)( \
        #family, #name, POSIX_CAT(scenario_, __LINE__));                       \
    static void POSIX_CAT(scenario_, __LINE__)(::posixtest::Recorder & r)

// Unprivileged identities: 3000 is a group both users share as a supplementary group.
inline const Cred kUser1{1001, 1001, {1001, 3000}};
inline const Cred kUser2{1002, 1002, {1002, 3000}};
inline const Cred kUser3{1003, 1003, {1003}};
inline constexpr gid_t kSharedGroup = 3000;

// Helpers shared by scenarios.
inline void make_file(Recorder& r, const std::string& rel, const std::string& data, mode_t mode = 0644) {
    const int h = r.creat(rel, 0644);
    if (!data.empty()) r.write(h, data);
    r.close(h);
    r.chmod(rel, mode);
}

inline std::string pattern(std::size_t n, unsigned seed = 1) {
    std::string s(n, '\0');
    unsigned x = seed * 2654435761U + 1U;
    for (auto& c : s) {
        x = x * 1103515245U + 12345U;
        c = static_cast<char>('a' + (x >> 16) % 26);
    }
    return s;
}

}  // namespace posixtest
