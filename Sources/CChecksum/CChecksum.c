// CRC-32 by folding with carry-less multiplication, after Gopal et al., "Fast CRC Computation
// for Generic Polynomials Using PCLMULQDQ Instruction" (Intel, 2009). Why it exists: `--cast`
// writes gigabytes of new bytes whose checksum ptview must compute, and the table method
// (about 1.5 GB/s) was the slowest stage of the whole write. Folding runs at memory speed.
//
// The register is reflected (bit 0 is the highest power), so the 64-bit constants below are
// bit-reversed remainders x^k mod P(x) for P = 0x104C11DB7, each shifted left by one:
//   fold 4x128 bits: x^(4*128+32), x^(4*128-32);  fold 128 bits: x^(128+32), x^(128-32);
//   fold 64 -> 32 bits: x^64;  Barrett: P(x) and floor(x^64 / P(x)).
#include "CChecksum.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int ptv_crc32_folding_available(void) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  return (c & bit_PCLMUL) && (c & bit_SSE4_1) ? 1 : 0;
}

__attribute__((target("pclmul,sse4.1"))) uint32_t ptv_crc32_fold(uint32_t state,
                                                                  const uint8_t *p,
                                                                  size_t length) {
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
  const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);
  const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);

  __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 0));
  __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32));
  __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 48));
  x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)state));
  p += 64;
  length -= 64;

  // Four independent lanes: each step folds 512 bits forward by 512 bits.
  while (length >= 64) {
    __m128i l1 = _mm_clmulepi64_si128(x1, k1k2, 0x00);
    __m128i l2 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
    __m128i l3 = _mm_clmulepi64_si128(x3, k1k2, 0x00);
    __m128i l4 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
    x1 = _mm_clmulepi64_si128(x1, k1k2, 0x11);
    x2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
    x3 = _mm_clmulepi64_si128(x3, k1k2, 0x11);
    x4 = _mm_clmulepi64_si128(x4, k1k2, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, l1), _mm_loadu_si128((const __m128i *)(p + 0)));
    x2 = _mm_xor_si128(_mm_xor_si128(x2, l2), _mm_loadu_si128((const __m128i *)(p + 16)));
    x3 = _mm_xor_si128(_mm_xor_si128(x3, l3), _mm_loadu_si128((const __m128i *)(p + 32)));
    x4 = _mm_xor_si128(_mm_xor_si128(x4, l4), _mm_loadu_si128((const __m128i *)(p + 48)));
    p += 64;
    length -= 64;
  }

  // Fold the four lanes into one, then the remaining 16-byte blocks into it.
  __m128i lo;
  lo = _mm_clmulepi64_si128(x1, k3k4, 0x00);
  x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), lo), x2);
  lo = _mm_clmulepi64_si128(x1, k3k4, 0x00);
  x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), lo), x3);
  lo = _mm_clmulepi64_si128(x1, k3k4, 0x00);
  x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), lo), x4);
  while (length >= 16) {
    lo = _mm_clmulepi64_si128(x1, k3k4, 0x00);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), lo),
                       _mm_loadu_si128((const __m128i *)p));
    p += 16;
    length -= 16;
  }

  // 128 -> 96 -> 64 bits.
  __m128i t = _mm_clmulepi64_si128(x1, k3k4, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
  t = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00), t);

  // Barrett reduction to 32 bits.
  t = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly, 0x10);
  t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), poly, 0x00);
  x1 = _mm_xor_si128(x1, t);
  return (uint32_t)_mm_extract_epi32(x1, 1);
}

#else

int ptv_crc32_folding_available(void) { return 0; }

uint32_t ptv_crc32_fold(uint32_t state, const uint8_t *bytes, size_t length) {
  (void)bytes;
  (void)length;
  return state;
}

#endif
