#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mm/guest_mem.h"
#include "mm/memmap.h"
#include "vmm/boot_layout.h"
#include "vmm/pvh.h"

/* A PVH ELF image described independently of its class, turned into bytes
 * by image_build. The default is a well-formed kernel:
 *
 *   0x0000 ELF header, program headers
 *   0x0800 PT_NOTE: the Xen PHYS32_ENTRY note
 *   0x1000 PT_LOAD 0: 0x100 bytes at 0x100000, 0x300 in memory (bss)
 *   0x1200 PT_LOAD 1: 0x80 bytes at 0x200000
 *   end    0x1280
 */
#define IMG_MAX 0x4000
#define NOTE_OFF 0x800
#define SEG0_OFF 0x1000
#define SEG1_OFF 0x1200
#define IMG_SIZE 0x1280
#define SEG0_PADDR 0x100000
#define SEG1_PADDR 0x200000
#define ENTRY (SEG0_PADDR + 0x40)
#define MAX_PH 24

struct model_phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

struct model {
	int is64;
	uint8_t class, data;
	uint16_t machine, phentsize, phnum;
	uint64_t phoff;
	unsigned nph; /* headers actually written */
	struct model_phdr ph[MAX_PH];
	uint8_t notes[256];
	size_t notes_len;
	uint64_t notes_off; /* where the note bytes go in the file */
	size_t size;
};

/* Index of the PT_NOTE header in the default model. */
#define NOTE_PH 1

/* Appends one ELF note; name is copied with its NUL, as namesz counts it. */
static void add_note_raw(struct model *m, uint32_t namesz, uint32_t descsz, uint32_t type,
			 const char *name, const void *desc, size_t desc_len)
{
	uint32_t hdr[3] = {namesz, descsz, type};
	size_t name_len = strlen(name) + 1;
	uint8_t *at = m->notes + m->notes_len;

	memcpy(at, hdr, sizeof(hdr));
	at += sizeof(hdr);
	memcpy(at, name, name_len);
	at += (name_len + 3) & ~(size_t)3;
	memcpy(at, desc, desc_len);
	at += (desc_len + 3) & ~(size_t)3;
	m->notes_len = (size_t)(at - m->notes);
	assert_true(m->notes_len <= sizeof(m->notes));
	m->ph[NOTE_PH].filesz = m->notes_len;
}

static void add_entry_note(struct model *m, uint64_t entry, uint32_t descsz)
{
	add_note_raw(m, 4, descsz, PVH_XEN_ELFNOTE_PHYS32_ENTRY, "Xen", &entry, descsz);
}

static void model_default(struct model *m, int is64)
{
	memset(m, 0, sizeof(*m));
	m->is64 = is64;
	m->class = is64 ? ELFCLASS64 : ELFCLASS32;
	m->data = ELFDATA2LSB;
	m->machine = is64 ? EM_X86_64 : EM_386;
	m->phentsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	m->phoff = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	m->nph = m->phnum = 4;
	m->ph[0] = (struct model_phdr){PT_LOAD, SEG0_OFF, SEG0_PADDR, 0x100, 0x300};
	m->ph[NOTE_PH] = (struct model_phdr){PT_NOTE, NOTE_OFF, 0, 0, 0};
	m->notes_off = NOTE_OFF;
	m->ph[2] = (struct model_phdr){PT_LOAD, SEG1_OFF, SEG1_PADDR, 0x80, 0x80};
	m->ph[3] = (struct model_phdr){PT_GNU_STACK, 0, 0, 0, 0}; /* ignored */
	/* Linux's 64-bit note carries an 8-byte value, a 32-bit one 4 bytes. */
	add_entry_note(m, ENTRY, is64 ? 8 : 4);
	m->size = IMG_SIZE;
}

static uint8_t pattern(size_t offset)
{
	return (uint8_t)(offset * 13 + 5);
}

/* Serialises the model into an allocation of exactly m->size bytes, so
 * the sanitizer build catches any read past the end of the file. */
static uint8_t *image_build(const struct model *m)
{
	static uint8_t buf[IMG_MAX];
	size_t ehdr_size = m->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phdr_size = m->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);

	assert_true(m->size <= IMG_MAX);
	for (size_t i = 0; i < IMG_MAX; i++)
		buf[i] = pattern(i);
	memset(buf, 0, SEG0_OFF);
	if (m->is64) {
		Elf64_Ehdr eh = {.e_type = ET_EXEC,
				 .e_machine = m->machine,
				 .e_version = EV_CURRENT,
				 .e_entry = 0xffffffff81000000ULL,
				 .e_phoff = m->phoff,
				 .e_ehsize = sizeof(eh),
				 .e_phentsize = m->phentsize,
				 .e_phnum = m->phnum};
		memcpy(buf, &eh, sizeof(eh));
	} else {
		Elf32_Ehdr eh = {.e_type = ET_EXEC,
				 .e_machine = m->machine,
				 .e_version = EV_CURRENT,
				 .e_entry = 0xc1000000u,
				 .e_phoff = (Elf32_Off)m->phoff,
				 .e_ehsize = sizeof(eh),
				 .e_phentsize = m->phentsize,
				 .e_phnum = m->phnum};
		memcpy(buf, &eh, sizeof(eh));
	}
	memcpy(buf, ELFMAG, SELFMAG);
	buf[EI_CLASS] = m->class;
	buf[EI_DATA] = m->data;
	buf[EI_VERSION] = EV_CURRENT;
	for (unsigned i = 0; i < m->nph; i++) {
		const struct model_phdr *p = &m->ph[i];
		uint64_t at = m->phoff + (uint64_t)i * phdr_size;

		if (m->phoff > IMG_MAX || at > IMG_MAX - phdr_size)
			break;
		if (m->is64) {
			Elf64_Phdr ph = {.p_type = p->type,
					 .p_offset = p->offset,
					 .p_vaddr = p->paddr,
					 .p_paddr = p->paddr,
					 .p_filesz = p->filesz,
					 .p_memsz = p->memsz,
					 .p_align = 0x1000};
			memcpy(buf + at, &ph, sizeof(ph));
		} else {
			Elf32_Phdr ph = {.p_type = p->type,
					 .p_offset = (Elf32_Off)p->offset,
					 .p_vaddr = (Elf32_Addr)p->paddr,
					 .p_paddr = (Elf32_Addr)p->paddr,
					 .p_filesz = (Elf32_Word)p->filesz,
					 .p_memsz = (Elf32_Word)p->memsz,
					 .p_align = 0x1000};
			memcpy(buf + at, &ph, sizeof(ph));
		}
	}
	assert_true(ehdr_size + m->nph * phdr_size <= NOTE_OFF || m->phoff != ehdr_size);
	assert_true(m->notes_off + m->notes_len <= IMG_MAX);
	memcpy(buf + m->notes_off, m->notes, m->notes_len);

	uint8_t *image = malloc(m->size ? m->size : 1);
	assert_non_null(image);
	memcpy(image, buf, m->size);
	return image;
}

static int parse_model(const struct model *m, struct pvh_kernel *k, char *err, size_t err_size)
{
	uint8_t *image = image_build(m);
	int rc = pvh_parse(image, m->size, k, err, err_size);

	free(image);
	return rc;
}

/* The image is refused and the message contains `problem`. */
static void assert_refused(const struct model *m, const char *problem)
{
	struct pvh_kernel k;
	char err[256] = "";

	if (parse_model(m, &k, err, sizeof(err)) != -1)
		fail_msg("ELF%d image accepted; expected '%s'", m->is64 ? 64 : 32, problem);
	if (!strstr(err, problem))
		fail_msg("ELF%d error '%s' does not name '%s'", m->is64 ? 64 : 32, err, problem);
}

/* Valid images */

static void valid_image_gives_entry_and_loadable_segments(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;
		struct pvh_kernel k;
		char err[256] = "";

		model_default(&m, is64);
		if (parse_model(&m, &k, err, sizeof(err)))
			fail_msg("ELF%d: %s", is64 ? 64 : 32, err);
		assert_int_equal(k.entry, ENTRY);
		assert_int_equal(k.nr_segments, 2); /* PT_NOTE and PT_GNU_STACK are not loaded */
		assert_int_equal(k.segments[0].paddr, SEG0_PADDR);
		assert_int_equal(k.segments[0].file_offset, SEG0_OFF);
		assert_int_equal(k.segments[0].file_size, 0x100);
		assert_int_equal(k.segments[0].mem_size, 0x300);
		assert_int_equal(k.segments[1].paddr, SEG1_PADDR);
		assert_int_equal(k.segments[1].file_offset, SEG1_OFF);
		assert_int_equal(k.segments[1].file_size, 0x80);
		assert_int_equal(k.segments[1].mem_size, 0x80);
	}
}

static void entry_note_is_found_after_other_notes(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;
		struct pvh_kernel k;
		char err[256] = "";
		uint8_t build_id[20];
		uint32_t xen_version = 0x4000;

		memset(build_id, 0x42, sizeof(build_id));
		model_default(&m, is64);
		m.notes_len = 0;
		add_note_raw(&m, 4, sizeof(build_id), NT_GNU_BUILD_ID, "GNU", build_id,
			     sizeof(build_id));
		/* Same name, different type: not the entry. */
		add_note_raw(&m, 4, 4, 5 /* XEN_ELFNOTE_XEN_VERSION */, "Xen", &xen_version, 4);
		add_entry_note(&m, SEG1_PADDR + 0x10, 4);
		if (parse_model(&m, &k, err, sizeof(err)))
			fail_msg("ELF%d: %s", is64 ? 64 : 32, err);
		assert_int_equal(k.entry, SEG1_PADDR + 0x10);
	}
}

static void load_copies_file_bytes_and_zeroes_bss(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;
		struct pvh_kernel k;
		struct guest_mem mem;
		char err[256] = "";

		model_default(&m, is64);
		uint8_t *image = image_build(&m);
		assert_int_equal(pvh_parse(image, m.size, &k, err, sizeof(err)), 0);
		assert_int_equal(guest_mem_init(&mem, 16 * GUEST_MIB), 0);
		/* Stale bytes where the bss goes, and around both segments. */
		memset(mem.mapping + SEG0_PADDR - 0x10, 0xaa, 0x400);
		memset(mem.mapping + SEG1_PADDR, 0xaa, 0x100);

		assert_int_equal(pvh_load(&k, image, &mem, BOOT_KERNEL_MIN_ADDR, err, sizeof(err)),
				 0);
		assert_memory_equal(mem.mapping + SEG0_PADDR, image + SEG0_OFF, 0x100);
		for (size_t i = 0x100; i < 0x300; i++)
			assert_int_equal(mem.mapping[SEG0_PADDR + i], 0);
		assert_int_equal(mem.mapping[SEG0_PADDR + 0x300], 0xaa); /* past memsz */
		assert_int_equal(mem.mapping[SEG0_PADDR - 1], 0xaa);
		assert_memory_equal(mem.mapping + SEG1_PADDR, image + SEG1_OFF, 0x80);
		assert_int_equal(mem.mapping[SEG1_PADDR + 0x80], 0xaa);
		/* The bytes really are the file's, not zeros. */
		assert_int_equal(mem.mapping[SEG0_PADDR + 1], pattern(SEG0_OFF + 1));
		guest_mem_destroy(&mem);
		free(image);
	}
}

/* Header problems */

static void non_elf_file_is_refused(void **state)
{
	static const uint8_t pe[64] = {'M', 'Z', 0x90};
	struct pvh_kernel k;
	char err[256] = "";

	assert_int_equal(pvh_parse(pe, sizeof(pe), &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an ELF"));
	/* A raw bzImage-style blob with the magic one byte off. */
	static const uint8_t shifted[64] = {0, 0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB};
	assert_int_equal(pvh_parse(shifted, sizeof(shifted), &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an ELF"));
}

static void file_shorter_than_elf_header_is_refused(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;

		model_default(&m, is64);
		/* Long enough for the identification bytes, not for the header. */
		m.size = (is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)) - 1;
		assert_refused(&m, "shorter than an ELF header");
		m.size = EI_NIDENT;
		assert_refused(&m, "shorter than an ELF header");
		/* Not even the magic and class. */
		m.size = 4;
		assert_refused(&m, "not an ELF");
		m.size = 0;
		assert_refused(&m, "not an ELF");
	}
}

static void big_endian_elf_is_refused(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;

		model_default(&m, is64);
		m.data = ELFDATA2MSB;
		assert_refused(&m, "little-endian");
		m.data = ELFDATANONE;
		assert_refused(&m, "little-endian");
	}
}

static void unknown_elf_class_is_refused(void **state)
{
	struct model m;

	model_default(&m, 1);
	m.class = ELFCLASSNONE;
	assert_refused(&m, "class");
	m.class = 3;
	assert_refused(&m, "class");
	m.class = 0xff;
	assert_refused(&m, "class 255");
}

static void non_x86_machine_is_refused_by_name(void **state)
{
	struct model m;

	model_default(&m, 1);
	m.machine = EM_AARCH64;
	assert_refused(&m, "AArch64");
	m.machine = EM_RISCV;
	assert_refused(&m, "RISC-V");
	model_default(&m, 0);
	m.machine = EM_ARM;
	assert_refused(&m, "ARM");
	m.machine = EM_NONE;
	assert_refused(&m, "cannot run on an x86 guest");
}

static void wrong_program_header_entry_size_is_refused(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;

		model_default(&m, is64);
		/* The other class's size: reading with it would misparse. */
		m.phentsize = is64 ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr);
		assert_refused(&m, "program header size");
		m.phentsize = 0;
		assert_refused(&m, "program header size");
	}
}

static void program_header_table_past_eof_is_refused(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;
		size_t phdr_size = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);

		model_default(&m, is64);
		m.phoff = m.size - phdr_size * m.phnum + 1; /* last byte one past EOF */
		assert_refused(&m, "program header table");
		model_default(&m, is64);
		m.phnum = 0xffff; /* far more headers than the file holds */
		assert_refused(&m, "program header table");
		model_default(&m, is64);
		/* phoff + phnum * size wraps to a small number (ELF64 only). */
		m.phoff = is64 ? UINT64_MAX - phdr_size + 1 : 0xffffffffu - phdr_size + 1;
		assert_refused(&m, "program header table");
		model_default(&m, is64);
		m.size = 0x200; /* table present, file cut right after the headers */
		m.phoff = 0x200;
		assert_refused(&m, "program header table");
	}
}

static void file_without_program_headers_is_refused(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;

		model_default(&m, is64);
		m.phnum = 0;
		assert_refused(&m, "no program headers");
	}
}

/* Segment problems */

static void segment_past_eof_is_refused(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;

		model_default(&m, is64);
		m.ph[2].filesz = m.size - SEG1_OFF + 1;
		m.ph[2].memsz = m.ph[2].filesz;
		assert_refused(&m, "segment 2 extends past the end");
		model_default(&m, is64);
		m.ph[0].offset = m.size + 0x1000;
		assert_refused(&m, "segment 0 extends past the end");
		model_default(&m, is64);
		/* offset + filesz wraps around to inside the file. */
		m.ph[0].offset = is64 ? UINT64_MAX - 0xf : 0xfffffff0u;
		m.ph[0].filesz = 0x20;
		assert_refused(&m, "segment 0 extends past the end");
		model_default(&m, is64);
		m.ph[NOTE_PH].filesz = m.size; /* a note segment is checked too */
		assert_refused(&m, "segment 1 extends past the end");
	}
}

static void segment_with_more_file_than_memory_is_refused(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;

		model_default(&m, is64);
		m.ph[2].memsz = m.ph[2].filesz - 1;
		assert_refused(&m, "exceeds memory size");
	}
}

static void segment_address_wrapping_is_refused(void **state)
{
	struct model m;

	model_default(&m, 1);
	m.ph[2].paddr = UINT64_MAX - 0x3f;
	assert_refused(&m, "wraps");
}

static void more_than_max_segments_is_refused(void **state)
{
	struct model m;

	model_default(&m, 1);
	m.nph = m.phnum = PVH_MAX_SEGMENTS + 2; /* the note + 17 loads */
	for (unsigned i = 0; i < m.nph; i++)
		if (i != NOTE_PH)
			m.ph[i] = (struct model_phdr){PT_LOAD, SEG0_OFF, SEG0_PADDR + i * 0x1000,
						      0x100, 0x100};
	assert_refused(&m, "more than 16 loadable segments");
	/* Exactly the maximum is fine. */
	m.nph = m.phnum = PVH_MAX_SEGMENTS + 1;
	struct pvh_kernel k;
	char err[256] = "";
	if (parse_model(&m, &k, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(k.nr_segments, PVH_MAX_SEGMENTS);
}

static void image_without_loadable_segments_is_refused(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;

		model_default(&m, is64);
		m.ph[0].type = PT_NULL;
		m.ph[2].type = PT_DYNAMIC;
		assert_refused(&m, "no loadable segments");
		/* PT_LOADs that occupy no memory load nothing. */
		model_default(&m, is64);
		m.ph[0].filesz = m.ph[0].memsz = 0;
		m.ph[2].filesz = m.ph[2].memsz = 0;
		assert_refused(&m, "no loadable segments");
	}
}

/* Entry note problems */

static void image_without_pvh_note_is_refused(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;

		model_default(&m, is64);
		m.ph[NOTE_PH].type = PT_NULL; /* note bytes present, but no PT_NOTE */
		assert_refused(&m, "no PVH entry point");
		model_default(&m, is64);
		m.notes_len = 0;
		add_note_raw(&m, 4, 4, 1 /* XEN_ELFNOTE_INFO */, "Xen", "\x40\x00\x10\x00", 4);
		assert_refused(&m, "no PVH entry point");
		/* Right type, wrong owner. */
		model_default(&m, is64);
		m.notes_len = 0;
		uint32_t e = ENTRY;
		add_note_raw(&m, 4, 4, PVH_XEN_ELFNOTE_PHYS32_ENTRY, "XEN", &e, 4);
		assert_refused(&m, "no PVH entry point");
		/* Descriptor neither 4 nor 8 bytes. */
		model_default(&m, is64);
		m.notes_len = 0;
		add_note_raw(&m, 4, 2, PVH_XEN_ELFNOTE_PHYS32_ENTRY, "Xen", &e, 2);
		assert_refused(&m, "no PVH entry point");
	}
}

static void note_truncated_by_segment_end_is_refused(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;

		/* The note's descriptor lies past the end of the PT_NOTE segment
		 * (but inside the file): it must not be read. */
		model_default(&m, is64);
		m.ph[NOTE_PH].filesz = 12 + 4 + 2;
		assert_refused(&m, "no PVH entry point");
		/* Only part of the note header. */
		model_default(&m, is64);
		m.ph[NOTE_PH].filesz = 11;
		assert_refused(&m, "no PVH entry point");
		/* The note is the last thing in the file and the file is cut
		 * short inside it. */
		model_default(&m, is64);
		m.notes_off = m.ph[NOTE_PH].offset = m.size - m.notes_len + 2;
		assert_refused(&m, "segment 1 extends past the end");
	}
}

static void note_with_overlong_sizes_is_refused(void **state)
{
	static const uint32_t sizes[] = {8, 0x100, 0x7fffffff, 0xfffffffc, 0xfffffffd, 0xffffffff};

	for (int is64 = 0; is64 < 2; is64++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct model m;
			uint32_t e = ENTRY;

			/* namesz claims more than the segment holds. */
			model_default(&m, is64);
			m.notes_len = 0;
			add_note_raw(&m, sizes[i], 4, PVH_XEN_ELFNOTE_PHYS32_ENTRY, "Xen", &e, 4);
			assert_refused(&m, "no PVH entry point");
			/* descsz claims more than the segment holds. */
			model_default(&m, is64);
			m.notes_len = 0;
			add_note_raw(&m, 4, sizes[i], PVH_XEN_ELFNOTE_PHYS32_ENTRY, "Xen", &e, 4);
			assert_refused(&m, "no PVH entry point");
		}
	}
}

static void note_size_wrapping_cannot_hide_an_entry_note(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;

		/* namesz 0xfffffffd rounds up to 0 in 32 bits: a parser that
		 * trusts the rounding would step into this note's "name" and
		 * find an entry note the real layout never contained. */
		model_default(&m, is64);
		m.notes_len = 0;
		add_note_raw(&m, 0xfffffffd, 0, 0, "", "", 0);
		m.notes_len -= 4; /* no name bytes: the next note starts here */
		add_entry_note(&m, ENTRY, 4);
		m.ph[NOTE_PH].filesz = m.notes_len;
		assert_refused(&m, "no PVH entry point");
	}
}

static void entry_outside_loaded_bytes_is_refused(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct model m;

		model_default(&m, is64);
		m.notes_len = 0;
		add_entry_note(&m, 0x300000, 4); /* no segment there */
		assert_refused(&m, "not inside a loaded segment");
		model_default(&m, is64);
		m.notes_len = 0;
		add_entry_note(&m, SEG0_PADDR + 0x100, 4); /* in the bss: zeros */
		assert_refused(&m, "0x100100");
		model_default(&m, is64);
		m.notes_len = 0;
		add_entry_note(&m, SEG0_PADDR - 1, 4);
		assert_refused(&m, "not inside a loaded segment");
	}
}

static void entry_above_4gib_is_not_truncated(void **state)
{
	struct model m;

	/* An 8-byte PHYS32_ENTRY whose low half lands in a segment: the entry is
	 * a 32-bit address, so a value with high bits set is invalid and must
	 * not be cut down to one that happens to look right. */
	model_default(&m, 1);
	m.notes_len = 0;
	add_entry_note(&m, (1ULL << 32) | ENTRY, 8);
	assert_refused(&m, "PVH entry point");
}

/* pvh_load */

static int load_model(const struct model *m, uint64_t ram, char *err, size_t err_size)
{
	struct pvh_kernel k;
	struct guest_mem mem;
	uint8_t *image = image_build(m);
	int rc;

	assert_int_equal(pvh_parse(image, m->size, &k, err, err_size), 0);
	assert_int_equal(guest_mem_init(&mem, ram), 0);
	rc = pvh_load(&k, image, &mem, BOOT_KERNEL_MIN_ADDR, err, err_size);
	guest_mem_destroy(&mem);
	free(image);
	return rc;
}

static void load_refuses_segment_below_1mib(void **state)
{
	struct model m;
	char err[256] = "";

	/* It would overwrite the boot data and the MP table. */
	model_default(&m, 1);
	m.ph[2].paddr = BOOT_START_INFO_ADDR;
	assert_int_equal(load_model(&m, 16 * GUEST_MIB, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0x6000"));
	model_default(&m, 0);
	m.ph[2].paddr = BOOT_KERNEL_MIN_ADDR - 0x80; /* ends exactly at 1 MiB */
	assert_int_equal(load_model(&m, 16 * GUEST_MIB, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not fit"));
}

static void load_refuses_segment_beyond_ram(void **state)
{
	struct model m;
	char err[256] = "";

	model_default(&m, 1);
	m.ph[2].paddr = 16 * GUEST_MIB - 0x40; /* straddles the end of RAM */
	assert_int_equal(load_model(&m, 16 * GUEST_MIB, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not fit in guest RAM"));
	assert_non_null(strstr(err, "16 MiB"));
	model_default(&m, 1);
	m.ph[0].memsz = 1ULL << 40; /* a bss larger than any RAM */
	assert_int_equal(load_model(&m, 16 * GUEST_MIB, err, sizeof(err)), -1);
	model_default(&m, 1);
	m.ph[2].paddr = GUEST_MMIO_HOLE_START; /* in the MMIO hole */
	assert_int_equal(load_model(&m, 16 * GUEST_MIB, err, sizeof(err)), -1);
	/* Ending exactly at the end of RAM is fine. */
	model_default(&m, 1);
	m.ph[2].paddr = 16 * GUEST_MIB - 0x80;
	assert_int_equal(load_model(&m, 16 * GUEST_MIB, err, sizeof(err)), 0);
}

/* pvh_write_start_info */

static void start_info_lands_at_layout_addresses(void **state)
{
	struct guest_mem mem;
	struct guest_mem_region r[GUEST_MEM_MAX_REGIONS];
	struct memmap_entry map[BOOT_MEMMAP_MAX_ENTRIES];
	struct pvh_start_info info;
	char err[256] = "";
	const char *cmdline = "console=ttyS0 root=/dev/vda";

	assert_int_equal(guest_mem_init(&mem, 32 * GUEST_MIB), 0);
	unsigned nr_regions = guest_mem_layout(32 * GUEST_MIB, r);
	unsigned nr = memmap_build(r, nr_regions, BOOT_RESERVED_START, BOOT_RESERVED_END, map,
				   BOOT_MEMMAP_MAX_ENTRIES);
	assert_int_equal(nr, 3);
	assert_int_equal(pvh_write_start_info(&mem, map, nr, cmdline, err, sizeof(err)), 0);

	/* Read back by raw offsets of the PVH ABI (start_info.h), not through
	 * the code's struct. */
	const uint8_t *si = mem.mapping + BOOT_START_INFO_ADDR;
	uint32_t u32;
	uint64_t u64;
	memcpy(&u32, si + 0, 4);
	assert_int_equal(u32, 0x336ec578);
	memcpy(&u32, si + 4, 4);
	assert_int_equal(u32, 1); /* version 1 has the memory map fields */
	memcpy(&u32, si + 12, 4);
	assert_int_equal(u32, 0); /* no modules */
	memcpy(&u64, si + 24, 8);
	assert_int_equal(u64, BOOT_CMDLINE_ADDR);
	memcpy(&u64, si + 40, 8);
	assert_int_equal(u64, BOOT_MEMMAP_ADDR);
	memcpy(&u32, si + 48, 4);
	assert_int_equal(u32, 3);
	memcpy(&info, si, sizeof(info));
	assert_int_equal(info.magic, PVH_START_INFO_MAGIC);

	for (unsigned i = 0; i < nr; i++) {
		const uint8_t *e = mem.mapping + BOOT_MEMMAP_ADDR + i * 24;
		uint64_t addr, size;
		uint32_t type;

		memcpy(&addr, e, 8);
		memcpy(&size, e + 8, 8);
		memcpy(&type, e + 16, 4);
		assert_int_equal(addr, map[i].addr);
		assert_int_equal(size, map[i].size);
		assert_int_equal(type, map[i].type);
	}
	assert_string_equal((const char *)mem.mapping + BOOT_CMDLINE_ADDR, cmdline);
	/* The areas do not overlap each other. */
	assert_true(BOOT_START_INFO_ADDR + sizeof(struct pvh_start_info) <= BOOT_MEMMAP_ADDR);
	assert_true(BOOT_MEMMAP_ADDR + BOOT_MEMMAP_MAX_ENTRIES * 24 <= BOOT_CMDLINE_ADDR);
	guest_mem_destroy(&mem);
}

static void start_info_refuses_cmdline_longer_than_limit(void **state)
{
	static char line[BOOT_CMDLINE_MAX + 1];
	struct guest_mem mem;
	struct memmap_entry map[1] = {{0, 16 * GUEST_MIB, MEMMAP_RAM}};
	char err[256] = "";

	assert_int_equal(guest_mem_init(&mem, 16 * GUEST_MIB), 0);
	memset(mem.mapping + BOOT_CMDLINE_ADDR, 0xaa, 2 * BOOT_CMDLINE_MAX);
	/* The longest that fits ends right below the next area. */
	memset(line, 'x', BOOT_CMDLINE_MAX - 1);
	line[BOOT_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(pvh_write_start_info(&mem, map, 1, line, err, sizeof(err)), 0);
	assert_int_equal(mem.mapping[BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX - 1], 0);
	assert_int_equal(mem.mapping[BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX], 0xaa);

	line[BOOT_CMDLINE_MAX - 1] = 'x';
	line[BOOT_CMDLINE_MAX] = '\0';
	mem.mapping[BOOT_CMDLINE_ADDR] = 0xaa;
	assert_int_equal(pvh_write_start_info(&mem, map, 1, line, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "command line"));
	assert_int_equal(mem.mapping[BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX], 0xaa);
	assert_int_equal(mem.mapping[BOOT_CMDLINE_ADDR], 0xaa); /* nothing written */
	guest_mem_destroy(&mem);
}

static void start_info_refuses_memmap_larger_than_its_area(void **state)
{
	struct guest_mem mem;
	struct memmap_entry map[BOOT_MEMMAP_MAX_ENTRIES + 1];
	char err[256] = "";

	memset(map, 0, sizeof(map));
	assert_int_equal(guest_mem_init(&mem, 16 * GUEST_MIB), 0);
	assert_int_equal(
		pvh_write_start_info(&mem, map, BOOT_MEMMAP_MAX_ENTRIES + 1, "", err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "memory map"));
	guest_mem_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_image_gives_entry_and_loadable_segments),
		cmocka_unit_test(entry_note_is_found_after_other_notes),
		cmocka_unit_test(load_copies_file_bytes_and_zeroes_bss),
		cmocka_unit_test(non_elf_file_is_refused),
		cmocka_unit_test(file_shorter_than_elf_header_is_refused),
		cmocka_unit_test(big_endian_elf_is_refused),
		cmocka_unit_test(unknown_elf_class_is_refused),
		cmocka_unit_test(non_x86_machine_is_refused_by_name),
		cmocka_unit_test(wrong_program_header_entry_size_is_refused),
		cmocka_unit_test(program_header_table_past_eof_is_refused),
		cmocka_unit_test(file_without_program_headers_is_refused),
		cmocka_unit_test(segment_past_eof_is_refused),
		cmocka_unit_test(segment_with_more_file_than_memory_is_refused),
		cmocka_unit_test(segment_address_wrapping_is_refused),
		cmocka_unit_test(more_than_max_segments_is_refused),
		cmocka_unit_test(image_without_loadable_segments_is_refused),
		cmocka_unit_test(image_without_pvh_note_is_refused),
		cmocka_unit_test(note_truncated_by_segment_end_is_refused),
		cmocka_unit_test(note_with_overlong_sizes_is_refused),
		cmocka_unit_test(note_size_wrapping_cannot_hide_an_entry_note),
		cmocka_unit_test(entry_outside_loaded_bytes_is_refused),
		cmocka_unit_test(entry_above_4gib_is_not_truncated),
		cmocka_unit_test(load_refuses_segment_below_1mib),
		cmocka_unit_test(load_refuses_segment_beyond_ram),
		cmocka_unit_test(start_info_lands_at_layout_addresses),
		cmocka_unit_test(start_info_refuses_cmdline_longer_than_limit),
		cmocka_unit_test(start_info_refuses_memmap_larger_than_its_area),
	};
	return cmocka_run_group_tests_name("pvh", tests, NULL, NULL);
}
