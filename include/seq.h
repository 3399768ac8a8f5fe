#ifndef SMTPSCOPE_SEQ_H
#define SMTPSCOPE_SEQ_H

#include <stdint.h>

/*
 * TCP sequence number comparison, safe across the 2^32 wrap (RFC 793
 * section 3.3, "modulo 2**32" arithmetic).  Never compare sequence numbers
 * with < or > directly.
 */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)
#define SEQ_DIFF(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)))

#endif
