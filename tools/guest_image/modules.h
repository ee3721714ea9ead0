// modules.h: the kernel modules a guest image needs, found in a kernel
// package's lib/modules/<version> tree, with everything they depend on, in
// an order that loads each module after its dependencies.
//
// Dependencies come from each module's own ".modinfo" ELF section
// ("depends=a,b", NUL-separated key=value strings), as modprobe's depmod
// reads them - the package ships no modules.dep. Module names treat '-' and
// '_' alike (the kernel does).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/common/status.h"

namespace hcsshim::guest_image {

// modinfoDepends: the "depends=" list of a module file's bytes.
// InvalidArgument when the bytes are not an ELF64 object with a .modinfo
// section inside the file.
StatusOr<std::vector<std::string>> modinfoDepends(std::string_view elf);

struct Module {
  std::string name;     // e.g. "virtio_pci"
  std::string relPath;  // under the modules tree, e.g. "kernel/drivers/virtio/virtio_pci.ko"
};

// moduleClosure: `wanted` and everything they need, dependencies first,
// each once; ties in the order `wanted` lists them. NotFound names a
// module (wanted or needed, and by whom) that the tree does not have.
StatusOr<std::vector<Module>> moduleClosure(const std::string& modulesDir, const std::vector<std::string>& wanted);

}  // namespace hcsshim::guest_image
