/*
** md5.h: MD5 (RFC 1321) in streaming form, for S3 ETags of local files.
** Not for security: S3 uses it as a content checksum, and so do we.
*/

#ifndef STEPFLOW_MD5_H
#define STEPFLOW_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct stepflow_md5 {
  uint32_t h[4];          /* the running state A, B, C, D */
  uint64_t length;        /* bytes hashed so far */
  unsigned char block[64];  /* a partial block waiting for more bytes */
} stepflow_md5;

/* Starts a digest. */
void stepflow_md5_init (stepflow_md5 *m);

/* Adds len bytes at p. */
void stepflow_md5_update (stepflow_md5 *m, const void *p, size_t len);

/* Ends the digest: out receives the 16 digest bytes. */
void stepflow_md5_final (stepflow_md5 *m, unsigned char out[16]);

#endif
