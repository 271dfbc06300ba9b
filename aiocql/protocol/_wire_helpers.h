/* C helpers of aiocql/protocol/_wire.pyx: building slotted Python objects without running their __init__. */
#ifndef AIOCQL_WIRE_HELPERS_H
#define AIOCQL_WIRE_HELPERS_H

#include <Python.h>
#include <structmember.h>

/* The offset of a writable object slot (a __slots__ member), or -1 when ``descr`` is something else. */
static Py_ssize_t aiocql_wire_slot_offset(PyObject *descr) {
    if (!PyObject_TypeCheck(descr, &PyMemberDescr_Type)) {
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member == NULL || member->type != T_OBJECT_EX || (member->flags & READONLY)) {
        return -1;
    }
    return member->offset;
}

/* A new instance of ``type`` with its ``n`` slots at ``offsets`` set to ``values`` (new references taken). */
static PyObject *aiocql_wire_new(PyTypeObject *type, Py_ssize_t n, const Py_ssize_t *offsets, PyObject *const *values) {
    PyObject *obj = type->tp_alloc(type, 0);
    if (obj == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_INCREF(values[i]);
        *(PyObject **)((char *)obj + offsets[i]) = values[i];
    }
    return obj;
}

/* ---- CRC32 of v5 frame payloads (owned with the CRC24 of _wire.pyx; spec v5 2.2) ----
 *
 * zlib's CRC-32 (reflected polynomial 0xEDB88320, value in and out as zlib.crc32 takes and gives it). On x86-64
 * CPUs with carry-less multiplication (PCLMULQDQ, SSE4.1: every x86-64 CPU since about 2010) the payload is folded
 * 64 bytes per step (four 128-bit lanes, each multiplied by x^(512) mod P and added to the next 64 bytes), the
 * lanes folded into one, the 128-bit remainder reduced to 32 bits by Barrett reduction: about 0.1 instruction per
 * byte where the table loop takes 4 to 8 and zlib 1.2.13 about 4. Elsewhere aiocql_crc32_fast is 0 and the
 * caller uses zlib.crc32. Constants: the bit-reflected x^k mod P of Intel's "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ" (2009); tests/unit/protocol/test_crc_compiled.py derives them again and checks
 * every length from 0 to 2 KiB against zlib. */
#include <stdint.h>

static uint32_t aiocql_crc32_table[256];

static void aiocql_crc32_init_table(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        }
        aiocql_crc32_table[b] = c;
    }
}

/* one byte at a time, on the inverted value */
static inline uint32_t aiocql_crc32_bytes(uint32_t c, const unsigned char *p, size_t n) {
    while (n--) {
        c = aiocql_crc32_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    }
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define AIOCQL_CRC32_CLMUL 1

/* (x^k mod P), bit-reflected and shifted left once, for the folding distances used below */
#define AIOCQL_K_512_HI 0x0154442bd4ULL /* x^(512+32) */
#define AIOCQL_K_512_LO 0x01c6e41596ULL /* x^(512-32) */
#define AIOCQL_K_128_HI 0x01751997d0ULL /* x^(128+32) */
#define AIOCQL_K_128_LO 0x00ccaa009eULL /* x^(128-32) */
#define AIOCQL_K_64 0x0163cd6124ULL     /* x^64 */
#define AIOCQL_P_REFL 0x01db710641ULL   /* P itself, reflected */
#define AIOCQL_MU 0x01f7011641ULL       /* floor(x^64 / P), reflected */

/* acc * x^(distance) + next: multiply the two 64-bit halves of acc by the two constants of k (low half by
 * the low constant, high by the high) and add the next 128 bits */
__attribute__((target("pclmul,sse4.1"))) static inline __m128i aiocql_fold(__m128i acc, __m128i k, __m128i next) {
    __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(acc, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* The inverted CRC c over n bytes, n >= 64 and a multiple of 16. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t aiocql_crc32_clmul(uint32_t c, const unsigned char *p,
                                                                             size_t n) {
    const __m128i k512 = _mm_set_epi64x((long long)AIOCQL_K_512_LO, (long long)AIOCQL_K_512_HI);
    const __m128i k128 = _mm_set_epi64x((long long)AIOCQL_K_128_LO, (long long)AIOCQL_K_128_HI);
    __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)c));
    __m128i b = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i d = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i e = _mm_loadu_si128((const __m128i *)(p + 48));
    p += 64;
    n -= 64;
    for (; n >= 64; p += 64, n -= 64) { /* four lanes, 64 bytes further each */
        a = aiocql_fold(a, k512, _mm_loadu_si128((const __m128i *)p));
        b = aiocql_fold(b, k512, _mm_loadu_si128((const __m128i *)(p + 16)));
        d = aiocql_fold(d, k512, _mm_loadu_si128((const __m128i *)(p + 32)));
        e = aiocql_fold(e, k512, _mm_loadu_si128((const __m128i *)(p + 48)));
    }
    a = aiocql_fold(a, k128, b); /* the four lanes into one */
    a = aiocql_fold(a, k128, d);
    a = aiocql_fold(a, k128, e);
    for (; n >= 16; p += 16, n -= 16) {
        a = aiocql_fold(a, k128, _mm_loadu_si128((const __m128i *)p));
    }
    /* 128 bits to 64: the low half times x^(128-32)... folded onto the high half; then 64 to 32 + 32 */
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i t = _mm_clmulepi64_si128(a, k128, 0x10);
    a = _mm_xor_si128(_mm_srli_si128(a, 8), t);
    t = _mm_srli_si128(a, 4);
    a = _mm_clmulepi64_si128(_mm_and_si128(a, low32), _mm_cvtsi64_si128((long long)AIOCQL_K_64), 0x00);
    a = _mm_xor_si128(a, t);
    /* Barrett reduction to the 32-bit remainder */
    const __m128i pm = _mm_set_epi64x((long long)AIOCQL_MU, (long long)AIOCQL_P_REFL);
    t = _mm_clmulepi64_si128(_mm_and_si128(a, low32), pm, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), pm, 0x00);
    a = _mm_xor_si128(a, t);
    return (uint32_t)_mm_extract_epi32(a, 1);
}
#endif

/* 1 when aiocql_crc32 folds with PCLMULQDQ (set by aiocql_crc32_setup), 0 when the caller should use zlib. */
static int aiocql_crc32_fast;

static void aiocql_crc32_setup(void) {
    aiocql_crc32_init_table();
#ifdef AIOCQL_CRC32_CLMUL
    __builtin_cpu_init();
    aiocql_crc32_fast = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
}

/* zlib.crc32(p[:n], crc): the running value crc as zlib gives it (0 to start). */
static uint32_t aiocql_crc32(uint32_t crc, const unsigned char *p, size_t n) {
    uint32_t c = ~crc;
#ifdef AIOCQL_CRC32_CLMUL
    if (aiocql_crc32_fast && n >= 80) {
        size_t head = (size_t)(-(uintptr_t)p & 15); /* to a 16-byte boundary (loads are unaligned anyway) */
        c = aiocql_crc32_bytes(c, p, head);
        p += head;
        n -= head;
        size_t body = n & ~(size_t)15;
        c = aiocql_crc32_clmul(c, p, body);
        p += body;
        n -= body;
    }
#endif
    return ~aiocql_crc32_bytes(c, p, n);
}

#endif
