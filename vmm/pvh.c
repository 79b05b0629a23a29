#include "vmm/pvh.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm/boot_layout.h"

static int pvh_fail(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int pvh_fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return -1;
}

/* A class-independent view of one program header. */
struct pvh_phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

struct pvh_elf {
	const uint8_t *image;
	size_t size;
	int is64;
	uint64_t phoff;
	unsigned phnum;
};

static int pvh_range_in_file(const struct pvh_elf *elf, uint64_t offset, uint64_t len)
{
	uint64_t end;

	return !__builtin_add_overflow(offset, len, &end) && end <= elf->size;
}

static void pvh_read_phdr(const struct pvh_elf *elf, unsigned i, struct pvh_phdr *ph)
{
	if (elf->is64) {
		Elf64_Phdr p;
		memcpy(&p, elf->image + elf->phoff + (uint64_t)i * sizeof(p), sizeof(p));
		*ph = (struct pvh_phdr){p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz};
	} else {
		Elf32_Phdr p;
		memcpy(&p, elf->image + elf->phoff + (uint64_t)i * sizeof(p), sizeof(p));
		*ph = (struct pvh_phdr){p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz};
	}
}

static const char *pvh_machine_name(unsigned machine)
{
	switch (machine) {
	case EM_AARCH64:
		return "AArch64";
	case EM_ARM:
		return "ARM";
	case EM_RISCV:
		return "RISC-V";
	case EM_PPC64:
		return "PowerPC64";
	default:
		return "not x86";
	}
}

static int pvh_parse_header(struct pvh_elf *elf, char *err, size_t err_size)
{
	const uint8_t *id = elf->image;

	if (elf->size < EI_NIDENT || memcmp(id, ELFMAG, SELFMAG) != 0)
		return pvh_fail(err, err_size, "not an ELF file (Skiff boots PVH ELF kernels)");
	if (id[EI_CLASS] != ELFCLASS32 && id[EI_CLASS] != ELFCLASS64)
		return pvh_fail(err, err_size, "unknown ELF class %u", id[EI_CLASS]);
	if (id[EI_DATA] != ELFDATA2LSB)
		return pvh_fail(err, err_size, "ELF file is not little-endian");
	elf->is64 = id[EI_CLASS] == ELFCLASS64;

	size_t ehdr_size = elf->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (elf->size < ehdr_size)
		return pvh_fail(err, err_size, "truncated: %zu bytes is shorter than an ELF header",
				elf->size);

	unsigned machine, phentsize;
	if (elf->is64) {
		Elf64_Ehdr eh;
		memcpy(&eh, elf->image, sizeof(eh));
		machine = eh.e_machine, phentsize = eh.e_phentsize;
		elf->phoff = eh.e_phoff, elf->phnum = eh.e_phnum;
	} else {
		Elf32_Ehdr eh;
		memcpy(&eh, elf->image, sizeof(eh));
		machine = eh.e_machine, phentsize = eh.e_phentsize;
		elf->phoff = eh.e_phoff, elf->phnum = eh.e_phnum;
	}
	if (machine != EM_X86_64 && machine != EM_386)
		return pvh_fail(err, err_size, "ELF machine %u (%s) cannot run on an x86 guest",
				machine, pvh_machine_name(machine));
	size_t phdr_size = elf->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (elf->phnum == 0)
		return pvh_fail(err, err_size, "ELF file has no program headers");
	if (phentsize != phdr_size)
		return pvh_fail(err, err_size, "bad ELF program header size %u", phentsize);
	if (!pvh_range_in_file(elf, elf->phoff, (uint64_t)elf->phnum * phdr_size))
		return pvh_fail(
			err, err_size,
			"truncated: the program header table extends past the end of the file");
	return 0;
}

static uint32_t pvh_align4(uint32_t n)
{
	return (n + 3u) & ~3u;
}

/* Looks for the PHYS32_ENTRY note in one PT_NOTE segment. 1 = found. */
static int pvh_find_entry_note(const struct pvh_elf *elf, const struct pvh_phdr *ph,
			       uint32_t *entry)
{
	uint64_t pos = ph->offset, end = ph->offset + ph->filesz;

	while (end - pos >= 12) {
		uint32_t hdr[3];
		memcpy(hdr, elf->image + pos, sizeof(hdr));
		uint64_t name_at = pos + 12, desc_at = name_at + pvh_align4(hdr[0]);
		uint64_t next = desc_at + pvh_align4(hdr[1]);
		if (hdr[0] > end || hdr[1] > end || next > end)
			return 0;
		if (hdr[2] == PVH_XEN_ELFNOTE_PHYS32_ENTRY && hdr[0] == 4 &&
		    memcmp(elf->image + name_at, "Xen", 4) == 0 && (hdr[1] == 4 || hdr[1] == 8)) {
			uint64_t value = 0;

			/* An 8-byte value must still be a 32-bit address, not one
			 * whose low half happens to land in the image. */
			memcpy(&value, elf->image + desc_at, hdr[1]);
			if (value > UINT32_MAX)
				return 0;
			*entry = (uint32_t)value;
			return 1;
		}
		pos = next;
	}
	return 0;
}

static int pvh_add_segment(struct pvh_kernel *kernel, const struct pvh_phdr *ph, unsigned index,
			   char *err, size_t err_size)
{
	uint64_t end;

	if (ph->filesz > ph->memsz)
		return pvh_fail(err, err_size,
				"segment %u: file size 0x%llx exceeds memory size 0x%llx", index,
				(unsigned long long)ph->filesz, (unsigned long long)ph->memsz);
	if (__builtin_add_overflow(ph->paddr, ph->memsz, &end))
		return pvh_fail(err, err_size, "segment %u: address range wraps around", index);
	if (kernel->nr_segments == PVH_MAX_SEGMENTS)
		return pvh_fail(err, err_size, "more than %d loadable segments", PVH_MAX_SEGMENTS);
	kernel->segments[kernel->nr_segments++] = (struct pvh_segment){.paddr = ph->paddr,
								       .file_offset = ph->offset,
								       .file_size = ph->filesz,
								       .mem_size = ph->memsz};
	return 0;
}

static int pvh_entry_is_loaded(const struct pvh_kernel *kernel)
{
	for (unsigned i = 0; i < kernel->nr_segments; i++) {
		const struct pvh_segment *s = &kernel->segments[i];
		if (kernel->entry >= s->paddr && kernel->entry < s->paddr + s->file_size)
			return 1;
	}
	return 0;
}

int pvh_parse(const uint8_t *image, size_t image_size, struct pvh_kernel *kernel, char *err,
	      size_t err_size)
{
	struct pvh_elf elf = {.image = image, .size = image_size};
	int have_entry = 0;

	memset(kernel, 0, sizeof(*kernel));
	if (pvh_parse_header(&elf, err, err_size))
		return -1;
	for (unsigned i = 0; i < elf.phnum; i++) {
		struct pvh_phdr ph;
		pvh_read_phdr(&elf, i, &ph);
		if (ph.type != PT_LOAD && ph.type != PT_NOTE)
			continue;
		if (!pvh_range_in_file(&elf, ph.offset, ph.filesz))
			return pvh_fail(err, err_size,
					"truncated: segment %u extends past the end of the file",
					i);
		if (ph.type == PT_NOTE) {
			have_entry |= pvh_find_entry_note(&elf, &ph, &kernel->entry);
		} else if (ph.memsz && pvh_add_segment(kernel, &ph, i, err, err_size)) {
			return -1;
		}
	}
	if (!have_entry)
		return pvh_fail(err, err_size,
				"no PVH entry point (ELF note XEN_ELFNOTE_PHYS32_ENTRY); "
				"Skiff boots PVH kernels");
	if (kernel->nr_segments == 0)
		return pvh_fail(err, err_size, "no loadable segments");
	if (!pvh_entry_is_loaded(kernel))
		return pvh_fail(err, err_size,
				"PVH entry point 0x%x is not inside a loaded segment",
				kernel->entry);
	return 0;
}

int pvh_load(const struct pvh_kernel *kernel, const uint8_t *image, const struct guest_mem *mem,
	     uint64_t min_paddr, char *err, size_t err_size)
{
	for (unsigned i = 0; i < kernel->nr_segments; i++) {
		const struct pvh_segment *s = &kernel->segments[i];
		uint8_t *dst = guest_mem_ptr(mem, s->paddr, s->mem_size);

		if (s->paddr < min_paddr || !dst)
			return pvh_fail(err, err_size,
					"segment at 0x%llx-0x%llx does not fit in guest RAM "
					"(%llu MiB, kernels load from 0x%llx up)",
					(unsigned long long)s->paddr,
					(unsigned long long)(s->paddr + s->mem_size - 1),
					(unsigned long long)(mem->ram_size >> 20),
					(unsigned long long)min_paddr);
		memcpy(dst, image + s->file_offset, s->file_size);
		memset(dst + s->file_size, 0, s->mem_size - s->file_size);
	}
	return 0;
}

int pvh_write_start_info(const struct guest_mem *mem, const struct memmap_entry *memmap,
			 unsigned nr_entries, const char *cmdline, char *err, size_t err_size)
{
	size_t cmdline_len = strlen(cmdline) + 1;
	struct pvh_start_info info = {
		.magic = PVH_START_INFO_MAGIC,
		.version = 1,
		.cmdline_paddr = BOOT_CMDLINE_ADDR,
		.memmap_paddr = BOOT_MEMMAP_ADDR,
		.memmap_entries = nr_entries,
	};

	if (cmdline_len > BOOT_CMDLINE_MAX)
		return pvh_fail(err, err_size, "kernel command line is %zu bytes; the limit is %d",
				cmdline_len - 1, BOOT_CMDLINE_MAX - 1);
	if (nr_entries > BOOT_MEMMAP_MAX_ENTRIES)
		return pvh_fail(err, err_size, "memory map has too many entries");
	for (unsigned i = 0; i < nr_entries; i++) {
		struct pvh_memmap_entry e = {memmap[i].addr, memmap[i].size, memmap[i].type, 0};
		if (!guest_mem_write(mem, BOOT_MEMMAP_ADDR + i * sizeof(e), &e, sizeof(e)))
			return pvh_fail(err, err_size, "guest RAM too small for boot data");
	}
	if (!guest_mem_write(mem, BOOT_CMDLINE_ADDR, cmdline, cmdline_len) ||
	    !guest_mem_write(mem, BOOT_START_INFO_ADDR, &info, sizeof(info)))
		return pvh_fail(err, err_size, "guest RAM too small for boot data");
	return 0;
}
