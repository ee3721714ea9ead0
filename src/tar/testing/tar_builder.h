// tar_builder.h: archives with exactly the headers a test wants (ustar
// members, pax 'x' records, GNU long names), for the reader's tests, the
// fuzz seeds and tar2ext4's bad-input cases. Not a general tar writer.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace hcsshim::tar::testing {

struct Member {
  std::string name;
  char type = '0';
  uint32_t mode = 0644;
  uint32_t uid = 0, gid = 0;
  uint64_t mtime = 1700000000;
  std::string data;          // stored bytes
  int64_t sizeField = -1;    // the header's size when not data.size()
  std::string link;
  uint32_t devMajor = 0, devMinor = 0;
  std::map<std::string, std::string> pax;  // a pax 'x' header before it
  bool gnuLongName = false;                // the name in an 'L' member
};

// header: one 512-byte ustar header (checksum computed).
std::string header(const Member& m);
// setChecksum: a header's checksum after the test changed its fields.
void setChecksum(std::string& header);
// member: the header(s) and padded data of m.
std::string member(const Member& m);
// end: the two zero records.
std::string end();

}  // namespace hcsshim::tar::testing
