#ifndef PTVIEW_CCHECKSUM_H
#define PTVIEW_CCHECKSUM_H
#include <stddef.h>
#include <stdint.h>

/// Whether this CPU can fold CRC-32 with carry-less multiplication (x86-64 PCLMULQDQ and
/// SSE4.1). Checked once at run time: the binary still runs on CPUs without them.
int ptv_crc32_folding_available(void);

/// Advances a CRC-32 register (zlib's polynomial, reflected, NOT pre- or post-inverted: the
/// caller passes `~crc` and inverts the result, as the table code does) over `length` bytes.
/// `length` must be a multiple of 16 and at least 64; the caller sums any rest itself.
/// Only call when `ptv_crc32_folding_available()` returned 1.
uint32_t ptv_crc32_fold(uint32_t state, const uint8_t *bytes, size_t length);

#endif
