/*
 * js.h - the JetStream API as ipcd speaks it: stream and subject names for
 * a queue name, the JSON of requests, and what replies and delivered
 * messages say.  No I/O here: cqueue.c sends through cluster.c.
 */
#ifndef IPCD_JS_H
#define IPCD_JS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nats/nats.h>

/* Big enough for any stream name js_stream_name makes, and subjects built on it. */
#define JS_NAME_MAX 160
#define JS_SUBJECT_MAX 256

/* The durable pull consumer every ipcd of a cluster queue shares. */
#define JS_CONSUMER "ipcd"

/* What the stream of a queue carries of its ipcd attributes (its description). */
struct js_attrs {
	size_t maxsize, maxbytes;    /* 0 unbounded */
	unsigned mode;
	uid_t uid;
	gid_t gid;
	bool ack;
	unsigned replicas;
	int64_t ctime;
};

/*
 * The stream name of queue name (len bytes): "IPCQ_" and the name with every
 * byte outside [A-Za-z0-9-] as _XX; a name that would make it too long is
 * hashed instead.  buf holds JS_NAME_MAX.
 */
void js_stream_name(const char *name, size_t len, char *buf);

/* The subject a queue's messages are published to. */
void js_subject(const char *stream, char *buf, size_t len);

/* The JSON of a stream create request for queue name with attributes a. NULL: -ENOMEM. */
char *js_stream_config(const char *stream, const char *name, const struct js_attrs *a);

/* The JSON of the shared consumer's create request. NULL: -ENOMEM. */
char *js_consumer_config(const char *stream, unsigned ack_wait_s);

/*
 * Parse a JetStream API reply: its JSON (a new reference in *out) or why
 * not.  0; -EHOSTUNREACH (no responders: JetStream is not available);
 * -ENOENT (stream not found); -EAGAIN (a stream limit refused a message);
 * -EIO (another error: its description in err).
 */
int js_reply(natsMsg *msg, json_t **out, char *err, size_t errlen);

/* The attributes in a stream's config (from an info or create reply). -EINVAL: not ipcd's. */
int js_attrs_of(json_t *reply, struct js_attrs *a);

/*
 * From a delivered message's ack subject: how many times it was delivered
 * (1 if unknown) and its sequence in the stream (0 if unknown).
 */
void js_ack_info(const char *ack_subject, uint64_t *delivered, uint64_t *sseq);

/* A JSON integer field path a.b of v, or dflt. */
int64_t js_int(json_t *v, const char *a, const char *b, int64_t dflt);

/* Decode the base64 of a message's data (a stream's get) in place: its length, or -1. */
ssize_t js_base64_decode(char *s);

#endif
