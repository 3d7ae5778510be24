#include "core/elf_exports.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>

namespace byparr {
namespace {

template <typename Ehdr, typename Shdr, typename Sym>
std::optional<std::vector<std::string>> read_exports(const std::string& data, std::string* error) {
    auto fail = [&](const char* m) -> std::optional<std::vector<std::string>> {
        if (error) *error = m;
        return std::nullopt;
    };
    if (data.size() < sizeof(Ehdr)) return fail("truncated ELF header");
    Ehdr eh;
    std::memcpy(&eh, data.data(), sizeof eh);
    if (eh.e_shentsize != sizeof(Shdr) || eh.e_shoff == 0 ||
        eh.e_shoff + uint64_t(eh.e_shnum) * sizeof(Shdr) > data.size())
        return fail("bad section header table");
    auto section = [&](size_t i) {
        Shdr sh;
        std::memcpy(&sh, data.data() + eh.e_shoff + i * sizeof(Shdr), sizeof sh);
        return sh;
    };
    std::vector<std::string> out;
    for (size_t i = 0; i < eh.e_shnum; ++i) {
        Shdr sh = section(i);
        if (sh.sh_type != SHT_DYNSYM) continue;
        if (sh.sh_link >= eh.e_shnum || sh.sh_offset + sh.sh_size > data.size())
            return fail("bad .dynsym section");
        Shdr str = section(sh.sh_link);
        if (str.sh_offset + str.sh_size > data.size()) return fail("bad .dynstr section");
        size_t n = sh.sh_size / sizeof(Sym);
        for (size_t k = 0; k < n; ++k) {
            Sym s;
            std::memcpy(&s, data.data() + sh.sh_offset + k * sizeof(Sym), sizeof s);
            unsigned bind = s.st_info >> 4, vis = s.st_other & 0x3;
            if (s.st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK) ||
                (vis != STV_DEFAULT && vis != STV_PROTECTED) || s.st_name >= str.sh_size)
                continue;
            const char* name = data.data() + str.sh_offset + s.st_name;
            size_t max = str.sh_size - s.st_name;
            out.emplace_back(name, strnlen(name, max));
        }
    }
    return out;
}

}  // namespace

std::optional<std::vector<std::string>> elf_exported_symbols(const std::string& path,
                                                             std::string* error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (error) *error = "cannot open " + path;
        return std::nullopt;
    }
    // Plugins are small; a 256 MiB cap keeps a hostile file from eating memory.
    std::string data;
    in.seekg(0, std::ios::end);
    auto size = in.tellg();
    if (size < 0 || size > (256 << 20)) {
        if (error) *error = "not a plausible shared library size";
        return std::nullopt;
    }
    in.seekg(0);
    data.resize(static_cast<size_t>(size));
    in.read(data.data(), size);
    if (data.size() < EI_NIDENT || std::memcmp(data.data(), ELFMAG, SELFMAG) != 0) {
        if (error) *error = "not an ELF file";
        return std::nullopt;
    }
    if (data[EI_DATA] != ELFDATA2LSB) {
        if (error) *error = "not a little-endian ELF file";
        return std::nullopt;
    }
    if (data[EI_CLASS] == ELFCLASS64) return read_exports<Elf64_Ehdr, Elf64_Shdr, Elf64_Sym>(data, error);
    if (data[EI_CLASS] == ELFCLASS32) return read_exports<Elf32_Ehdr, Elf32_Shdr, Elf32_Sym>(data, error);
    if (error) *error = "unknown ELF class";
    return std::nullopt;
}

}  // namespace byparr
