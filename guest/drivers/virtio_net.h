/* virtio-net (device type 1): one device, receive queue 0 and transmit
 * queue 1, feature VIRTIO_NET_F_MAC. Received frames go to net/netstack.c;
 * receive is polled from the idle loop (woken by the queue's interrupt,
 * or by the tick when polled), so the guest answers while the shell idles.
 * The address comes from the command line: ip=A.B.C.D/NN. */
#ifndef GUEST_DRIVERS_VIRTIO_NET_H
#define GUEST_DRIVERS_VIRTIO_NET_H

#include <stdbool.h>

#include "drivers/virtio_pci.h"
#include "net/netstack.h"

#define NET_DEFAULT_IP "169.254.100.2/16"

extern const struct virtio_driver virtio_net_driver;

struct virtio_dev *net_device(void);
const struct netif *net_interface(void);
/* Takes what arrived and what was sent; answers it. */
void net_poll(void);

#endif
