/*
 * cmd.h - the command table and its gate: the one path every request takes
 * from decoded frame to handler.
 */
#ifndef IPCD_CMD_H
#define IPCD_CMD_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc_protocol.h"

struct conn;
struct server;
struct object;
struct handle;

/* A request that passed the gate: arguments typed and the target resolved. */
struct req {
	struct conn *conn;
	struct server *srv;
	uint32_t id;
	unsigned op;
	uint32_t argc;
	const msgpack_object *argv;  /* borrowed: valid during the handler only */
	struct handle *handle;       /* when the op names a handle (argv[0]) */
	struct object *obj;          /* its object, linked and of the op's kind; for an
					owner's op, the object named (or NULL) */
	const char *body;            /* the frame's body, borrowed like argv (to dispatch */
	size_t len;                  /* it again: object_open.lookup) */
};

/*
 * Decode and run one request frame of c.  Returns 0, or -EPROTO when the
 * frame was malformed and c is closing (conn_close_flushed: the caller must
 * serve it nothing more).
 */
int cmd_dispatch(struct conn *c, const char *body, size_t len);

/* Free the decoder's memory (shutdown). */
void cmd_cleanup(void);

/* Handlers, by family; the table in cmd.c names them (opens are the gate's). */
void cmd_hello(struct req *r);
void cmd_ping(struct req *r);
void cmd_status(struct req *r);
void cmd_list(struct req *r);
void cmd_clients(struct req *r);
void cmd_unlink(struct req *r);
void cmd_close(struct req *r);
void cmd_setname(struct req *r);
void cmd_chmod(struct req *r);
void cmd_chown(struct req *r);

void cmd_client_kill(struct req *r);
void cmd_config(struct req *r);
void cmd_config_set(struct req *r);
void cmd_monitor(struct req *r);

void queue_cmd_put(struct req *r);
void queue_cmd_get(struct req *r);
void queue_cmd_size(struct req *r);
void queue_cmd_peek(struct req *r);
void queue_cmd_stat(struct req *r);
void queue_cmd_purge(struct req *r);
void queue_cmd_put_many(struct req *r);
void queue_cmd_get_many(struct req *r);
void queue_cmd_prefetch(struct req *r);
void queue_cmd_credit(struct req *r);
void queue_cmd_task_done(struct req *r);
void queue_cmd_join(struct req *r);
void queue_cmd_ring_kick(struct req *r);

void array_cmd_read(struct req *r);
void array_cmd_write(struct req *r);
void array_cmd_add(struct req *r);
void array_cmd_lock(struct req *r);
void array_cmd_unlock(struct req *r);
void array_cmd_stat(struct req *r);

void pipe_cmd_pair(struct req *r);
void pipe_cmd_send(struct req *r);
void pipe_cmd_recv(struct req *r);
void pipe_cmd_close(struct req *r);

#endif
