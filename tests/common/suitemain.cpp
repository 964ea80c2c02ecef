// main() of every test directory's executable: runs the one suite named by the first argument
// and passes it the rest, so CTest still runs (and reports, and times out) each suite apart.

#include "common/suite.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

namespace {

std::map<std::string, sluice::test::SuiteMain> &suites()
{
    static std::map<std::string, sluice::test::SuiteMain> all;
    return all;
}

} // namespace

bool sluice::test::registerSuite(const char *file, SuiteMain main)
{
    std::string name(file);
    if (const auto slash = name.find_last_of('/'); slash != std::string::npos)
        name.erase(0, slash + 1);
    if (const auto dot = name.find('.'); dot != std::string::npos)
        name.erase(dot);
    return suites().emplace(name, main).second;
}

int main(int argc, char *argv[])
{
    if (argc >= 2) {
        if (const auto it = suites().find(argv[1]); it != suites().end()) {
            // The suite gets the program name, then Qt Test's options.
            argv[1] = argv[0];
            return it->second(argc - 1, argv + 1);
        }
    }
    if (argc >= 2)
        std::fprintf(stderr, "%s: no suite named %s\n", argv[0], argv[1]);
    std::fprintf(stderr, "usage: %s SUITE [Qt Test options]\nsuites in this executable:\n",
                 argv[0]);
    for (const auto &suite : suites())
        std::fprintf(stderr, "  %s\n", suite.first.c_str());
    return 2;
}
