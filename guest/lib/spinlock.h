/* A test-and-set spinlock for the few structures CPUs share (the console).
 * The _irqsave variants also keep the local CPU's interrupt handlers out. */
#ifndef GUEST_LIB_SPINLOCK_H
#define GUEST_LIB_SPINLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/cpu.h"

struct spinlock {
	volatile uint32_t locked;
};

static inline bool spin_trylock(struct spinlock *lock)
{
	return !__atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE);
}

static inline void spin_lock(struct spinlock *lock)
{
	while (!spin_trylock(lock)) {
		while (__atomic_load_n(&lock->locked, __ATOMIC_RELAXED))
			cpu_relax();
	}
}

static inline void spin_unlock(struct spinlock *lock)
{
	__atomic_store_n(&lock->locked, 0, __ATOMIC_RELEASE);
}

static inline uint64_t spin_lock_irqsave(struct spinlock *lock)
{
	uint64_t flags = irq_save();

	spin_lock(lock);
	return flags;
}

static inline void spin_unlock_irqrestore(struct spinlock *lock, uint64_t flags)
{
	spin_unlock(lock);
	irq_restore(flags);
}

#endif
