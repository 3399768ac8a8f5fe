/*
 * rd: the bounds-checked cursor over untrusted bytes.  Invariant: off <= len;
 * once err is set, every read returns 0/NULL and the cursor stays put.
 */
#include "config.h"

#include "rd.h"

#include <string.h>

void
rd_init(struct rd *r, const void *p, size_t len)
{
	r->base = p;
	r->len = p == NULL ? 0 : len;
	r->off = 0;
	r->err = 0;
}

size_t
rd_left(const struct rd *r)
{
	return r->err ? 0 : r->len - r->off;
}

static int
rd_need(struct rd *r, size_t n)
{
	if (r->err || r->len - r->off < n) {
		r->err = 1;
		return 0;
	}
	return 1;
}

uint8_t
rd_u8(struct rd *r)
{
	if (!rd_need(r, 1))
		return 0;
	return r->base[r->off++];
}

uint16_t
rd_be16(struct rd *r)
{
	uint16_t v;

	if (!rd_need(r, 2))
		return 0;
	v = (uint16_t)((r->base[r->off] << 8) | r->base[r->off + 1]);
	r->off += 2;
	return v;
}

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

uint32_t
rd_be32(struct rd *r)
{
	uint32_t v;

	if (!rd_need(r, 4))
		return 0;
	v = ((uint32_t)r->base[r->off] << 24) |
	    ((uint32_t)r->base[r->off + 1] << 16) |
	    ((uint32_t)r->base[r->off + 2] << 8) | r->base[r->off + 3];
	r->off += 4;
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

const uint8_t *
rd_bytes(struct rd *r, size_t n)
{
	const uint8_t *p;

	if (!rd_need(r, n))
		return NULL;
	p = r->base + r->off;
	r->off += n;
	return p;
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

void
rd_skip(struct rd *r, size_t n)
{
	if (rd_need(r, n))
		r->off += n;
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

uint8_t
rd_peek(const struct rd *r, size_t i)
{
	if (r->err || r->len - r->off <= i)
		return 0;
	return r->base[r->off + i];
}
