// seeds.h: a starting corpus for the bridge fuzzer - one valid frame of
// every request type, a response, a notification, and a multi-frame stream.
#pragma once

#include <string>
#include <vector>

namespace hcsshim::bridge {
std::vector<std::string> fuzzSeeds();
}
