/*
 * The fuzz targets' common entry point, as libFuzzer defines it.  Built
 * with --enable-fuzzing (clang), libFuzzer supplies main(); otherwise
 * fuzz-main.c does, replaying files and directories of inputs, which is
 * how `make check` runs the seed corpora and every kept crash input.
 */
#ifndef TISOCK_FUZZ_H
#define TISOCK_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
