/*
 * cmd_admin.c - handlers of the administration requests: ending another
 * client's connection, and the settings in force (where each came from)
 * and changing the live ones without a reload.
 *
 * Who administers: root and the user ipcd runs as (server_is_admin); a
 * user may also end the connections of its own processes, as kill(2) lets
 * it signal them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "codec.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "reply.h"
#include "server.h"

void cmd_client_kill(struct req *r)
{
	uint64_t id = r->argv[0].via.u64;
	struct conn *c;

	TAILQ_FOREACH(c, &r->srv->conns, link)
		if (c->id == id)
			break;
	if (!c) {
		reply_error(r->conn, r->id, -ESRCH, "no client %llu", (unsigned long long)id);
		return;
	}
	if (c == r->conn) {
		reply_error(r->conn, r->id, -EINVAL, "a client cannot end its own connection "
			    "this way: close it");
		return;
	}
	if (c->uid != r->conn->uid && !server_is_admin(r->srv, r->conn)) {
		reply_error(r->conn, r->id, -EPERM, "client %llu belongs to uid %u: only it, "
			    "root and ipcd's own user may end it", (unsigned long long)id,
			    (unsigned)c->uid);
		return;
	}
	log_info("client %llu (pid %d) ended client %llu (pid %d, %s)",
		 (unsigned long long)r->conn->id, (int)r->conn->pid, (unsigned long long)c->id,
		 (int)c->pid, c->name[0] ? c->name : "unnamed");
	/* Everything it held is given back, as when its process dies. */
	conn_close(c, "ended by an administrator");
	reply_ok(r->conn, r->id);
}

/* Where the value in force of setting i came from. */
static void pack_source(msgpack_packer *pk, const struct server *srv, size_t i)
{
	const struct config_source *src = srv->source;
	char buf[512];

	if (srv->live_set & (1u << i))
		proto_pack_cstr(pk, "config.set");
	else if (strcmp(config_keys[i].name, "socket") == 0 && srv->activated)
		proto_pack_cstr(pk, "service manager");
	else if (src && (src->cli.set & (1u << i)))
		proto_pack_cstr(pk, "command line");
	else if (srv->cfg_set & (1u << i)) {
		snprintf(buf, sizeof buf, "file %s", src && src->file ? src->file : "");
		proto_pack_cstr(pk, buf);
	} else if (strcmp(config_keys[i].name, "log-level") == 0 && src && src->verbose)
		proto_pack_cstr(pk, "command line (-v)");
	else
		proto_pack_cstr(pk, "default");
}

void cmd_config(struct req *r)
{
	struct config cur;
	msgpack_packer *pk;
	char value[512];

	server_config_get(r->srv, &cur);
	pk = reply_begin(r->conn, r->id, 0, 1);
	msgpack_pack_array(pk, (uint32_t)config_nkeys);
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];

		if (strcmp(k->name, "socket") == 0)
			snprintf(value, sizeof value, "%s", r->srv->socket_path ?
				 r->srv->socket_path : "");
		else
			config_format(&cur, k, value, sizeof value);
		msgpack_pack_map(pk, 4);
		proto_pack_kv_str(pk, "name", k->name);
		proto_pack_kv_str(pk, "value", value);
		proto_pack_cstr(pk, "source");
		pack_source(pk, r->srv, i);
		proto_pack_cstr(pk, "live");
		if (k->live)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}
	reply_end(r->conn);
	/* cur borrows the server's strings. */
}

void cmd_config_set(struct req *r)
{
	uint32_t nlen, vlen;
	const char *name = proto_bytes(&r->argv[0], &nlen);
	const char *val = proto_bytes(&r->argv[1], &vlen);
	char key[64], value[256], err[256];
	const struct config_key *k;
	struct config cur, next;

	if (!server_is_admin(r->srv, r->conn)) {
		reply_error(r->conn, r->id, -EPERM, "only root and ipcd's own user may change "
			    "settings");
		return;
	}
	if (nlen >= sizeof key || vlen >= sizeof value) {
		reply_error(r->conn, r->id, -EINVAL, "no such setting or value");
		return;
	}
	memcpy(key, name, nlen);
	key[nlen] = '\0';
	memcpy(value, val, vlen);
	value[vlen] = '\0';
	k = config_find(key);
	if (!k) {
		reply_error(r->conn, r->id, -ENOENT, "no setting named '%s'", key);
		return;
	}
	/* Paths are never live, and an address is bound by a reload (it may fail),
	 * so the copy below never owns a string. */
	if (k->type == CONFIG_ADDR || k->type == CONFIG_TEXT) {
		reply_error(r->conn, r->id, -EINVAL, "%s is applied by a reload: change it in the "
			    "configuration file, then reload (SIGHUP)", k->name);
		return;
	}
	if (!k->live || k->type == CONFIG_PATH) {
		reply_error(r->conn, r->id, -EINVAL, "%s needs a restart: change it in the "
			    "configuration file", k->name);
		return;
	}
	server_config_get(r->srv, &cur);
	next = cur;
	if (config_set(&next, k, value, err, sizeof err) < 0) {
		reply_error(r->conn, r->id, -EINVAL, "%s: %s", k->name, err);
		return;
	}
	log_info("client %llu (pid %d uid %u) sets %s = %s", (unsigned long long)r->conn->id,
		 (int)r->conn->pid, (unsigned)r->conn->uid, k->name, value);
	server_config_apply(r->srv, &next);
	r->srv->live_set |= 1u << (k - config_keys);
	reply_ok(r->conn, r->id);
}
