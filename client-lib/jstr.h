/*
 * Skipping plain runs of JSON string content many bytes at a time: the
 * scanner and the encoder only look at single bytes where something needs
 * handling. SSE2 (16 bytes a step) where the compiler has it, which every
 * x86-64 does; else 8-byte words on little-endian machines; else bytes.
 * Header only: the hot paths inline it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* What the scanner stops at: '"', '\\', a control character or a non-ASCII byte. */
static inline bool jstr_scan_stop(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

/* What the encoder stops at: the bytes it escapes. */
static inline bool jstr_escape_stop(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

#if defined(__SSE2__)

static inline int jstr_mask16(const char *p, bool scan)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
	__m128i b = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
	/* signed: below 0x20 and, as negatives, 0x80 and up; unsigned: below 0x20 only */
	__m128i c = scan ? _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))
			 : _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);

	return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, b), c));
}

static inline const char *jstr_skip(const char *p, const char *end, bool scan)
{
	while (end - p >= 16) {
		int m = jstr_mask16(p, scan);
		if (m)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
	while (p < end && !(scan ? jstr_scan_stop((unsigned char)*p)
				  : jstr_escape_stop((unsigned char)*p)))
		p++;
	return p;
}

#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__

#define JSTR_ONES 0x0101010101010101ull
#define JSTR_HIGH 0x8080808080808080ull

/* High bit of each byte that is zero (exact for the lowest such byte). */
static inline uint64_t jstr_zero_bytes(uint64_t v)
{
	return (v - JSTR_ONES) & ~v & JSTR_HIGH;
}

static inline const char *jstr_skip(const char *p, const char *end, bool scan)
{
	while (end - p >= 8) {
		uint64_t v, m;

		memcpy(&v, p, sizeof(v));
		m = jstr_zero_bytes(v ^ (JSTR_ONES * '"')) | jstr_zero_bytes(v ^ (JSTR_ONES * '\\')) |
		    ((v - JSTR_ONES * 0x20) & ~v & JSTR_HIGH);
		if (scan)
			m |= v & JSTR_HIGH;
		if (m) {
			/* the lowest flagged byte is a real one: start there, exactly */
			p += __builtin_ctzll(m) / 8;
			break;
		}
		p += 8;
	}
	while (p < end && !(scan ? jstr_scan_stop((unsigned char)*p)
				  : jstr_escape_stop((unsigned char)*p)))
		p++;
	return p;
}

#else

static inline const char *jstr_skip(const char *p, const char *end, bool scan)
{
	while (p < end && !(scan ? jstr_scan_stop((unsigned char)*p)
				  : jstr_escape_stop((unsigned char)*p)))
		p++;
	return p;
}

#endif
