/*
 * lib-public: marks the definitions that libtisock exports.  Everything
 * else is hidden (-fvisibility=hidden), and libtisock.sym lists the same
 * names for the linker.
 */
#ifndef TISOCK_LIB_PUBLIC_H
#define TISOCK_LIB_PUBLIC_H

#define TISOCK_PUBLIC __attribute__((visibility("default")))

#endif
