/*
 * ipc_protocol.h - the wire contract between ipcd and its clients.
 *
 * The one source of truth for the protocol: version, frame layout and limits,
 * operation codes (in families by object kind) and the reply conventions.
 * proto/PROTOCOL.md describes the same in prose.
 *
 * Raise IPC_PROTO_VERSION on ANY change to the meaning of this file.
 */
#ifndef IPC_PROTOCOL_H
#define IPC_PROTOCOL_H

#include <stdint.h>

#define IPC_PROTO_VERSION 4

/*
 * A frame is a 4-byte big-endian body length followed by that many bytes of
 * one msgpack value:
 *   request  [op, id, args...]        id >= 1, chosen by the client
 *   reply    [id, status, results...] status 0 or a negative Linux errno;
 *                                     an error reply's only result is a message
 *   push     [0, event, ...]          unsolicited, from the daemon
 * A reply that carries a file descriptor is sent with the descriptor attached
 * (SCM_RIGHTS) to the first byte of its frame.
 */
#define IPC_FRAME_HEADER 4u
#define IPC_FRAME_OVERHEAD 1024u             /* body bytes beyond one message */
#define IPC_FRAME_HARD_MAX (1u << 30)        /* no configuration may exceed it */
#define IPC_PUSH_ID 0u

#define IPC_NAME_MAX 255                     /* bytes in an object name */
#define IPC_CLIENT_NAME_MAX 64               /* bytes in a client's name */

/* Object kinds; names are unique across kinds. */
#define IPC_KINDS(X) \
	X(QUEUE, 1, "queue") \
	X(ARRAY, 2, "array") \
	X(PIPE,  3, "pipe")

enum ipc_kind {
	IPC_KIND_ANY = 0,
#define IPC_KIND_ENUM(sym, num, str) IPC_KIND_##sym = num,
	IPC_KINDS(IPC_KIND_ENUM)
#undef IPC_KIND_ENUM
};

/*
 * Operations.  X(symbol, code, name, arguments) where arguments spells the
 * types of args... in the request, one letter each; those after a '|' are
 * optional:
 *   u unsigned int   i signed int   s string   b binary or string
 *   m map (or nil)   a array        h handle (unsigned, from an open)
 *   n number (integer or float)
 * Families: 0x0_ session and server, 0x1_ queues, 0x2_ arrays, 0x3_ pipes.
 */
#define IPC_OPS(X) \
	X(HELLO,     0x01, "hello",      "uus")  /* version, pid, name -> version, server, client id */ \
	X(PING,      0x02, "ping",       "")     /* -> */ \
	X(STATUS,    0x03, "status",     "")     /* -> {map} */ \
	X(LIST,      0x04, "list",       "")     /* -> [{map}...] */ \
	X(CLIENTS,   0x05, "clients",    "")     /* -> [{map}...] */ \
	X(UNLINK,    0x06, "unlink",     "su")   /* name, kind (0 any) -> */ \
	X(CLOSE,     0x07, "close",      "h")    /* handle -> */ \
	X(SETNAME,   0x08, "setname",    "s")    /* name -> (the client's name) */ \
	X(CHMOD,     0x09, "chmod",      "su")   /* name, mode -> */ \
	X(CHOWN,     0x0a, "chown",      "suu")  /* name, uid, gid (IPC_ID_KEEP: unchanged) -> */ \
	X(CLIENT_KILL,0x0b,"client.kill","u")    /* client id -> ; closes that connection */ \
	X(CONFIG,    0x0c, "config",     "")     /* -> [{name, value, source, live}...] */ \
	X(CONFIG_SET,0x0d, "config.set", "ss")   /* name, value -> ; a live setting */ \
	X(MONITOR,   0x0e, "monitor",    "")     /* -> ; then pushes "monitor" */ \
	X(Q_OPEN,    0x10, "queue.open", "sum")  /* name, flags, {attr} -> handle, created, mapped, lane; + ring fd if mapped */ \
	X(Q_PUT,     0x11, "queue.put",  "hib")  /* handle, timeout ms, data -> */ \
	X(Q_GET,     0x12, "queue.get",  "hi")   /* handle, timeout ms -> data */ \
	X(Q_SIZE,    0x13, "queue.size", "h")    /* handle -> count */ \
	X(Q_PEEK,    0x14, "queue.peek", "h")    /* handle -> data (-EAGAIN if empty) */ \
	X(Q_STAT,    0x15, "queue.stat", "h")    /* handle -> {map} */ \
	X(Q_PURGE,   0x16, "queue.purge","h")    /* handle -> count removed */ \
	X(Q_PUT_MANY,0x17, "queue.put_many", "hia") /* handle, timeout ms, [data...] -> count put */ \
	X(Q_GET_MANY,0x18, "queue.get_many", "hiu") /* handle, timeout ms, max -> [data...] */ \
	X(Q_PREFETCH,0x19, "queue.prefetch", "hu")  /* handle, n -> ; pushes "msgs" up to n ahead */ \
	X(Q_CREDIT,  0x1a, "queue.credit",   "hu")  /* handle, taken -> no reply unless an error */ \
	X(Q_TASK_DONE,0x1b,"queue.task_done","h")   /* handle -> no reply unless an error; acks the oldest get */ \
	X(Q_JOIN,    0x1c, "queue.join",     "hi")  /* handle, timeout ms -> ; all put are finished */ \
	X(Q_RING_KICK,0x1d,"queue.ring_kick","h")   /* handle -> no reply: the ring changed (ipc_ring.h) */ \
	X(A_OPEN,    0x20, "array.open", "susu|m") /* name, flags, typecode, length, {attr} -> handle, created, typecode, length, itemsize, id, mapped; + fd if mapped */ \
	X(A_READ,    0x21, "array.read", "huu|i")  /* handle, start, count, timeout ms -> data */ \
	X(A_WRITE,   0x22, "array.write","hub|i")  /* handle, start, data, timeout ms -> */ \
	X(A_ADD,     0x23, "array.add",  "hun|i")  /* handle, index, delta, timeout ms -> old value */ \
	X(A_LOCK,    0x24, "array.lock", "hi")     /* handle, timeout ms -> */ \
	X(A_UNLOCK,  0x25, "array.unlock","h")     /* handle -> */ \
	X(A_STAT,    0x26, "array.stat", "h")      /* handle -> {map} */ \
	X(P_OPEN,    0x30, "pipe.open",  "suu")  /* name, flags, end -> handle, created */ \
	X(P_PAIR,    0x31, "pipe.pair",  "u")    /* flags -> name, handle0, handle1 */ \
	X(P_SEND,    0x32, "pipe.send",  "huib") /* handle, end, timeout ms, data -> */ \
	X(P_RECV,    0x33, "pipe.recv",  "hui")  /* handle, end, timeout ms -> data */ \
	X(P_CLOSE,   0x34, "pipe.close", "hu|u") /* handle, end[, until claimed] -> (the end too if held here) */

enum ipc_op {
#define IPC_OP_ENUM(sym, code, name, args) IPC_OP_##sym = code,
	IPC_OPS(IPC_OP_ENUM)
#undef IPC_OP_ENUM
	IPC_OP_MAX = 0xff
};

/* Push events: [0, event, ...]. */
#define IPC_PUSH_ERROR "error"   /* [0, "error", status, message]; the connection closes */
#define IPC_PUSH_MSGS  "msgs"    /* [0, "msgs", handle, [data...]]: prefetched messages;
				    on an ack queue [0, "msgs", handle, [data...], [flags...]] */
#define IPC_PUSH_REMOVED "removed" /* [0, "removed", handle]: a prefetching handle's queue went */
#define IPC_PUSH_MONITOR "monitor" /* [0, "monitor", {map}]: a request another client made */

/* Flags of a message got from an ack queue (the last result of queue.get). */
#define IPC_MSGFLAG_REDELIVERED 0x1u /* handed out before, to a consumer gone without task_done */

/* Bounds of one batch (put_many frame, get_many reply, "msgs" push). */
#define IPC_BATCH_MAX_MSGS  4096u
#define IPC_BATCH_MAX_BYTES (256u * 1024u)   /* unless one message alone is larger */
/*
 * The batch a sender fills when the size is its own choice (a client's
 * asynchronous puts and put_many chunks, the daemon's pushes): well inside a
 * Unix socket's buffer, so that the next frame is on its way while the peer
 * decodes this one.  Frames near the socket buffer's size go stop-and-wait.
 */
#define IPC_STREAM_BATCH_BYTES (64u * 1024u)

#define IPC_PREFETCH_MAX 65536u                  /* messages one handle may have pushed ahead */

/* Flags of the open operations (the same values as the client's IPC_CREATE...). */
#define IPC_OPEN_CREATE    0x1u
#define IPC_OPEN_EXCLUSIVE 0x2u
#define IPC_OPEN_NOMAP     0x8u              /* arrays: send no descriptor, count no mapping */
#define IPC_OPEN_ONEWAY    0x4u              /* pipes: end 0 receives, end 1 sends */
#define IPC_OPEN_AUTOREMOVE 0x20u            /* an object this open creates is removed when
						the connection that created it closes */

/*
 * Names beginning with this character are the daemon's own (anonymous pipes):
 * no client may create one, and they are found only by the kind that made them.
 */
#define IPC_NAME_RESERVED '@'

/* Attributes of Q_OPEN, keys of its map (all optional, unsigned): */
#define IPC_ATTR_MAXSIZE  "maxsize"   /* messages; 0 unbounded */
#define IPC_ATTR_MAXBYTES "maxbytes"  /* bytes of payload; 0 unbounded */
#define IPC_ATTR_MODE     "mode"      /* permission bits; 0 means 0600 */
#define IPC_ATTR_ACK      "ack"       /* 1: gets stay in flight until task_done */
#define IPC_ATTR_DURABLE  "durable"   /* 1: kept in a log, survives a restart */
#define IPC_ATTR_REPLICAS "replicas"  /* N >= 1: a cluster queue stored with N replicas */
#define IPC_ATTR_NORING   "noring"    /* 1: no shared-memory ring (created), no mapping (this open) */

/*
 * Permissions, as System V IPC has them: an object has an owner uid and gid
 * and mode bits rwx for owner, group and others.  Read lets a handle get,
 * peek or map read-only; write lets it put or write.  root has every right.
 */
#define IPC_MODE_DEFAULT 0600u
#define IPC_PERM_READ    04u
#define IPC_PERM_WRITE   02u
#define IPC_ID_KEEP      0xffffffffu         /* chown: leave this id as it is */

/*
 * Array element types: Python's array typecodes with their sizes on Linux
 * (LP64).  X(code, bytes, is_integer, is_signed).  Elements travel in the
 * machine's own byte order: client and daemon share the machine.
 */
#define IPC_TYPECODES(X) \
	X('b', 1, 1, 1) X('B', 1, 1, 0) X('h', 2, 1, 1) X('H', 2, 1, 0) \
	X('i', 4, 1, 1) X('I', 4, 1, 0) X('l', 8, 1, 1) X('L', 8, 1, 0) \
	X('q', 8, 1, 1) X('Q', 8, 1, 0) X('f', 4, 0, 1) X('d', 8, 0, 1)

#define IPC_TYPECODE_LIST "b B h H i I l L q Q f d"

/* Bytes in one element of typecode tc, or 0 when tc is not a typecode. */
static inline unsigned ipc_typecode_size(int tc)
{
	switch (tc) {
#define IPC_TC_SIZE(code, bytes, integer, sign) case code: return bytes;
	IPC_TYPECODES(IPC_TC_SIZE)
#undef IPC_TC_SIZE
	}
	return 0;
}

/* Is typecode tc an integer type (else f or d)?  False for a non-typecode. */
static inline int ipc_typecode_is_integer(int tc)
{
	switch (tc) {
#define IPC_TC_INT(code, bytes, integer, sign) case code: return integer;
	IPC_TYPECODES(IPC_TC_INT)
#undef IPC_TC_INT
	}
	return 0;
}

/* Is typecode tc signed (f and d count as signed)? */
static inline int ipc_typecode_is_signed(int tc)
{
	switch (tc) {
#define IPC_TC_SIGN(code, bytes, integer, sign) case code: return sign;
	IPC_TYPECODES(IPC_TC_SIGN)
#undef IPC_TC_SIGN
	}
	return 0;
}

/* Big-endian frame header helpers, shared by both sides. */
static inline void ipc_frame_put_len(unsigned char hdr[IPC_FRAME_HEADER], uint32_t len)
{
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
}

static inline uint32_t ipc_frame_get_len(const unsigned char hdr[IPC_FRAME_HEADER])
{
	return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	       (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3];
}

#endif
