// Lists the dynamic symbols an ELF shared library exports, by reading its
// .dynsym section from the file, without loading it.
//
// Why not boost::dll::library_info (what architecture.md suggests): in Boost 1.74
// it reads .symtab, not .dynsym, so a stripped library — every plugin installed
// from a .deb — looks as if it exported nothing; and it pairs symbols with the
// last string table in the file rather than the one the symbol table links to.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace byparr {

/// Exported (defined, global or weak, default or protected visibility) dynamic
/// symbols of the ELF file at `path`. nullopt and *error when it is not a
/// readable 64- or 32-bit little-endian ELF.
std::optional<std::vector<std::string>> elf_exported_symbols(const std::string& path,
                                                             std::string* error);

}  // namespace byparr
