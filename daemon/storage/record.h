/*
 * record.h - the framing of a queue log's records, and reading them back.
 *
 * A log file opens with a 16-byte header: "IPCDQLOG", a u32 version, zeros.
 * Version 2 records are
 *     u32 magic | u32 crc | u32 len | u8 type | body[len]      (little-endian)
 * with crc the CRC-32C of len, type and body.  The magic lets a reader find
 * the next record after a damaged one.  Version 1 records (read, never
 * written) lack the magic.  All integers are little-endian.
 */
#ifndef IPCD_RECORD_H
#define IPCD_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RECORD_FILE_HEADER 16u
#define RECORD_VERSION 2u
#define RECORD_HEAD 13u              /* magic, crc, len, type */
#define RECORD_HEAD_V1 9u            /* crc, len, type */
#define RECORD_ID 8u                 /* the u64 id that starts PUT, TAKE, DONE bodies */

/* META: a msgpack map of the queue's attributes (the last counts); PUT: id
 * then the message; TAKE: id (handed to a consumer); DONE: id (gone). */
enum record_type { RECORD_META = 1, RECORD_PUT = 2, RECORD_TAKE = 3, RECORD_DONE = 4 };

/* CRC-32C (Castagnoli) of len bytes, continuing from crc (0 to start). */
uint32_t record_crc32c(uint32_t crc, const void *data, size_t len);

void record_put_le32(unsigned char *p, uint32_t v);
void record_put_le64(unsigned char *p, uint64_t v);
uint32_t record_get_le32(const unsigned char *p);
uint64_t record_get_le64(const unsigned char *p);

/* The header of a new log (version RECORD_VERSION). */
void record_file_header(unsigned char out[RECORD_FILE_HEADER]);

/* The version of the log of size bytes at p: 1 or 2, or 0 if it is none. */
unsigned record_file_version(const unsigned char *p, size_t size);

/*
 * Encode one record at p (RECORD_HEAD + alen + blen bytes of room): type,
 * then body a followed by b.  Returns its size.
 */
size_t record_encode(unsigned char *p, unsigned type, const void *a, size_t alen,
		     const void *b, size_t blen);

/*
 * What record_scan calls.  record: a record that checks out, at offset off;
 * return 0 to take it, -EBADMSG to count it as damage (it must then have
 * changed nothing), another negative errno to stop the scan.  damage: bytes
 * [from, to) held no usable record; the scan goes on at to.
 */
struct record_reader {
	int (*record)(void *arg, unsigned type, const unsigned char *body, size_t len, off_t off);
	void (*damage)(void *arg, off_t from, off_t to);
	void *arg;
};

/*
 * Read the records of the log of size bytes at p (its header checked by the
 * caller: version 1 or 2).  A bad record of version 2 is skipped up to the
 * next magic that starts a record which checks out (reported to damage);
 * version 1 stops at the first bad record.  Returns the end of the last
 * good record: what follows it is a torn tail to cut off.  Or the negative
 * errno the record callback stopped with.
 */
off_t record_scan(const unsigned char *p, off_t size, unsigned version,
		  const struct record_reader *rd);

#endif
