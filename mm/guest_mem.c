#include "mm/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

unsigned guest_mem_layout(uint64_t ram_size, struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS])
{
	uint64_t low = ram_size < GUEST_MMIO_HOLE_START ? ram_size : GUEST_MMIO_HOLE_START;

	regions[0] = (struct guest_mem_region){.gpa = 0, .size = low, .memfd_offset = 0};
	if (ram_size == low)
		return 1;
	regions[1] = (struct guest_mem_region){
		.gpa = GUEST_HIGH_RAM_START, .size = ram_size - low, .memfd_offset = low};
	return 2;
}

int guest_mem_init(struct guest_mem *mem, uint64_t ram_size)
{
	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
	if (ram_size == 0 || ram_size % GUEST_PAGE_SIZE)
		return -EINVAL;

	int fd = memfd_create("skiff-guest-ram", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)ram_size) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	/* MAP_NORESERVE: guest RAM is populated on first touch, like a real
	 * machine's untouched pages cost nothing until used. */
	void *map = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (map == MAP_FAILED) {
		int err = -errno;
		close(fd);
		return err;
	}
	/* Huge pages where the host allows them for shared memory
	 * (transparent_hugepage/shmem_enabled "advise"): one nested page
	 * fault per 2 MiB the guest touches instead of 512. A hint only. */
	madvise(map, ram_size, MADV_HUGEPAGE);
	mem->memfd = fd;
	mem->ram_size = ram_size;
	mem->mapping = map;
	mem->nr_regions = guest_mem_layout(ram_size, mem->regions);
	for (unsigned i = 0; i < mem->nr_regions; i++)
		mem->regions[i].hva = mem->mapping + mem->regions[i].memfd_offset;
	return 0;
}

void guest_mem_destroy(struct guest_mem *mem)
{
	if (mem->mapping)
		munmap(mem->mapping, mem->ram_size);
	if (mem->memfd >= 0)
		close(mem->memfd);
	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return NULL;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];
		if (gpa >= r->gpa && end <= r->gpa + r->size)
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

bool guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = guest_mem_ptr(mem, gpa, len);

	if (!dst)
		return false;
	memcpy(dst, src, len);
	return true;
}

bool guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	const void *src = guest_mem_ptr(mem, gpa, len);

	if (!src)
		return false;
	memcpy(dst, src, len);
	return true;
}
