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

void rd_init(struct rd *, const void *, size_t);
size_t rd_left(const struct rd *);
uint8_t rd_u8(struct rd *);
uint16_t rd_be16(struct rd *);
uint32_t rd_be24(struct rd *);
uint32_t rd_be32(struct rd *);
uint64_t rd_be64(struct rd *);
uint16_t rd_le16(struct rd *);
uint32_t rd_le32(struct rd *);
/* Borrow n bytes; NULL (and err set) when fewer remain. */
const uint8_t *rd_bytes(struct rd *, size_t n);
/* Copy n bytes into out; on failure out is zeroed and err set. */
int rd_copy(struct rd *, void *out, size_t n);
void rd_skip(struct rd *, size_t n);
/* A sub-cursor over the next n bytes, which the parent skips. */
struct rd rd_sub(struct rd *, size_t n);
/* Peek at the byte at offset i from the cursor without moving; 0 if none. */
uint8_t rd_peek(const struct rd *, size_t i);

#endif
