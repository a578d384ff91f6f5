/*
 * record.c - queue log records (see record.h): the checksum, encoding, and
 * the scan that reads them back, resynchronising on the magic after damage.
 */
#include <errno.h>
#include <string.h>

#include "ipc_protocol.h"
#include "record.h"

#define FILE_MAGIC "IPCDQLOG"
/* Chosen to be rare in text and in small integers: 0xd9 'Q' 'R' 0xa7. */
static const unsigned char rec_magic[4] = { 0xd9, 0x51, 0x52, 0xa7 };
/* No record is larger than a frame plus its id. */
#define REC_MAX_BODY ((size_t)IPC_FRAME_HARD_MAX + RECORD_ID)

static uint32_t crc_table[256];

uint32_t record_crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!crc_table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
			crc_table[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

void record_put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

void record_put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

uint32_t record_get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t record_get_le64(const unsigned char *p)
{
	return (uint64_t)record_get_le32(p) | (uint64_t)record_get_le32(p + 4) << 32;
}

void record_file_header(unsigned char out[RECORD_FILE_HEADER])
{
	memset(out, 0, RECORD_FILE_HEADER);
	memcpy(out, FILE_MAGIC, 8);
	record_put_le32(out + 8, RECORD_VERSION);
}

unsigned record_file_version(const unsigned char *p, size_t size)
{
	uint32_t v;

	if (size < RECORD_FILE_HEADER || memcmp(p, FILE_MAGIC, 8) != 0)
		return 0;
	v = record_get_le32(p + 8);
	return v == 1 || v == 2 ? v : 0;
}

size_t record_encode(unsigned char *p, unsigned type, const void *a, size_t alen,
		     const void *b, size_t blen)
{
	size_t size = RECORD_HEAD + alen + blen;

	memcpy(p, rec_magic, sizeof rec_magic);
	record_put_le32(p + 8, (uint32_t)(alen + blen));
	p[12] = (unsigned char)type;
	if (alen)
		memcpy(p + RECORD_HEAD, a, alen);
	if (blen)
		memcpy(p + RECORD_HEAD + alen, b, blen);
	record_put_le32(p + 4, record_crc32c(0, p + 8, size - 8));
	return size;
}

/*
 * The record at off, if it checks out and the reader takes it: its size;
 * 0 if not; a negative errno to stop.
 */
static off_t try_record(const unsigned char *p, off_t size, off_t off, unsigned version,
			const struct record_reader *rd)
{
	off_t head = version == 1 ? RECORD_HEAD_V1 : RECORD_HEAD;
	const unsigned char *r = p + off;
	uint32_t crc, len;
	int rc;

	if (size - off < head)
		return 0;
	if (version == 1) {
		crc = record_get_le32(r);
		r += 4;
	} else {
		if (memcmp(r, rec_magic, sizeof rec_magic) != 0)
			return 0;
		crc = record_get_le32(r + 4);
		r += 8;
	}
	/* r: len, type, body */
	len = record_get_le32(r);
	if (len > REC_MAX_BODY || (off_t)len > size - off - head ||
	    record_crc32c(0, r, 5 + (size_t)len) != crc)
		return 0;
	rc = rd->record(rd->arg, r[4], r + 5, len, off);
	if (rc == -EBADMSG)
		return 0;
	return rc < 0 ? rc : head + (off_t)len;
}

/* The next offset past from where a version 2 record starts and checks out, or -1. */
static off_t resync(const unsigned char *p, off_t size, off_t from,
		    const struct record_reader *rd, off_t *rsize)
{
	for (off_t off = from; size - off >= (off_t)RECORD_HEAD; off++) {
		const unsigned char *m = memchr(p + off, rec_magic[0],
						(size_t)(size - off - RECORD_HEAD + 1));

		if (!m)
			return -1;
		off = m - p;
		*rsize = try_record(p, size, off, 2, rd);
		if (*rsize != 0)
			return off;
	}
	return -1;
}

off_t record_scan(const unsigned char *p, off_t size, unsigned version,
		  const struct record_reader *rd)
{
	off_t off = RECORD_FILE_HEADER, good = RECORD_FILE_HEADER;

	while (off < size) {
		off_t n = try_record(p, size, off, version, rd), next;

		if (n < 0)
			return n;
		if (n > 0) {
			off += n;
			good = off;
			continue;
		}
		if (version == 1)
			break;
		next = resync(p, size, off + 1, rd, &n);
		if (next < 0 || n < 0)
			return next < 0 ? good : n;
		rd->damage(rd->arg, off, next);
		off = next + n;
		good = off;
	}
	return good;
}
