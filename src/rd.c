/*
 * rd: the bounds-checked cursor over untrusted bytes.  Invariant: off <= len;
 * once err is set, every read returns 0/NULL and the cursor stays put.
 * The common getters are static inline in rd.h; these are the rarer ones.
 */
#include "config.h"

#include "rd.h"

#include <string.h>

uint32_t
rd_be24(struct rd *r)
{
	uint32_t v;

	if (!rd_need(r, 3))
		return 0;
	v = ((uint32_t)r->base[r->off] << 16) |
	    ((uint32_t)r->base[r->off + 1] << 8) | r->base[r->off + 2];
	r->off += 3;
	return v;
}

uint64_t
rd_be64(struct rd *r)
{
	uint64_t hi, lo;

	if (!rd_need(r, 8))
		return 0;
	hi = rd_be32(r);
	lo = rd_be32(r);
	return (hi << 32) | lo;
}

uint16_t
rd_le16(struct rd *r)
{
	uint16_t v;

	if (!rd_need(r, 2))
		return 0;
	v = (uint16_t)(r->base[r->off] | (r->base[r->off + 1] << 8));
	r->off += 2;
	return v;
}

uint32_t
rd_le32(struct rd *r)
{
	uint32_t v;

	if (!rd_need(r, 4))
		return 0;
	v = (uint32_t)r->base[r->off] | ((uint32_t)r->base[r->off + 1] << 8) |
	    ((uint32_t)r->base[r->off + 2] << 16) |
	    ((uint32_t)r->base[r->off + 3] << 24);
	r->off += 4;
	return v;
}

int
rd_copy(struct rd *r, void *out, size_t n)
{
	const uint8_t *p = rd_bytes(r, n);

	if (p == NULL) {
		memset(out, 0, n);
		return -1;
	}
	memcpy(out, p, n);
	return 0;
}

struct rd
rd_sub(struct rd *r, size_t n)
{
	struct rd sub;
	const uint8_t *p = rd_bytes(r, n);

	rd_init(&sub, p, p == NULL ? 0 : n);
	if (p == NULL)
		sub.err = 1;
	return sub;
}
