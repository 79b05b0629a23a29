/* A byte ring buffer with one producer and one consumer. The console uses
 * it for received characters: the UART interrupt handler and the idle-loop
 * poll both produce on the BSP with interrupts off, the shell consumes. */
#ifndef GUEST_LIB_RING_H
#define GUEST_LIB_RING_H

#include <stdbool.h>
#include <stdint.h>

#define RING_SIZE 1024 /* a power of two */

struct ring {
	uint8_t data[RING_SIZE];
	volatile uint32_t head; /* next slot to write; only the producer moves it */
	volatile uint32_t tail; /* next slot to read; only the consumer moves it */
};

/* false when full: the byte is dropped. */
static inline bool ring_put(struct ring *r, uint8_t byte)
{
	uint32_t head = r->head;

	if (head - r->tail == RING_SIZE)
		return false;
	r->data[head % RING_SIZE] = byte;
	__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
	return true;
}

/* false when empty. */
static inline bool ring_get(struct ring *r, uint8_t *byte)
{
	uint32_t tail = r->tail;

	if (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == tail)
		return false;
	*byte = r->data[tail % RING_SIZE];
	__atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
	return true;
}

static inline bool ring_empty(const struct ring *r)
{
	return __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == r->tail;
}

#endif
