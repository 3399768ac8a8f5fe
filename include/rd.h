#ifndef SMTPSCOPE_RD_H
#define SMTPSCOPE_RD_H

#include <stddef.h>
#include <stdint.h>

/*
 * A bounds-checked cursor over untrusted bytes.  A read past the end returns
 * 0 (or NULL) and sets the sticky error flag; every later read fails too, so
 * a parser checks rd.err once per record.
 */
struct rd {
	const uint8_t *base;
	size_t len;
	size_t off;
	int err;
};

/*
 * The getters used on every packet are static inline: as out-of-line calls
 * they cost several percent of a capture file's reading time.  The rarer
 * ones stay in rd.c.
 */
static inline void
rd_init(struct rd *r, const void *p, size_t len)
{
	r->base = p;
	r->len = p == NULL ? 0 : len;
	r->off = 0;
	r->err = 0;
}

static inline size_t
rd_left(const struct rd *r)
{
	return r->err ? 0 : r->len - r->off;
}

/* 1 when n more bytes can be read; else 0 with err set. */
static inline int
rd_need(struct rd *r, size_t n)
{
	if (r->err || r->len - r->off < n) {
		r->err = 1;
		return 0;
	}
	return 1;
}

static inline uint8_t
rd_u8(struct rd *r)
{
	if (!rd_need(r, 1))
		return 0;
	return r->base[r->off++];
}

static inline uint16_t
rd_be16(struct rd *r)
{
	uint16_t v;

	if (!rd_need(r, 2))
		return 0;
	v = (uint16_t)((r->base[r->off] << 8) | r->base[r->off + 1]);
	r->off += 2;
	return v;
}

static inline uint32_t
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

/* Borrow n bytes; NULL (and err set) when fewer remain. */
static inline const uint8_t *
rd_bytes(struct rd *r, size_t n)
{
	const uint8_t *p;

	if (!rd_need(r, n))
		return NULL;
	p = r->base + r->off;
	r->off += n;
	return p;
}

static inline void
rd_skip(struct rd *r, size_t n)
{
	if (rd_need(r, n))
		r->off += n;
}

/* Peek at the byte at offset i from the cursor without moving; 0 if none. */
static inline uint8_t
rd_peek(const struct rd *r, size_t i)
{
	if (r->err || r->len - r->off <= i)
		return 0;
	return r->base[r->off + i];
}

uint32_t rd_be24(struct rd *);
uint64_t rd_be64(struct rd *);
uint16_t rd_le16(struct rd *);
uint32_t rd_le32(struct rd *);
/* Copy n bytes into out; on failure out is zeroed and err set. */
int rd_copy(struct rd *, void *out, size_t n);
/* A sub-cursor over the next n bytes, which the parent skips. */
struct rd rd_sub(struct rd *, size_t n);

#endif
