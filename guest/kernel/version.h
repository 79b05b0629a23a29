#ifndef GUEST_KERNEL_VERSION_H
#define GUEST_KERNEL_VERSION_H

/* guest/CMakeLists.txt passes the project version. */
#ifndef SKIFF_GUEST_VERSION
#define SKIFF_GUEST_VERSION "0.0.0"
#endif

#endif
