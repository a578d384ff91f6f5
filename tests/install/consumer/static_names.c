/*
 * static_names.c - a program that defines, for its own use, functions named
 * like libipcclient's internal ones, linked against the installed static
 * library: the archive must export only ipc_* names, or the link fails or
 * the library calls this program's functions.  Then it puts a message
 * through a queue of the daemon at argv[1] and reads it back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipcclient.h>

#include "round_trip.h"

/* Names libipcclient uses inside (taken from its objects' symbol tables). */
int stream_flush(int x);
int stream_get(int x);
int io_connect(int x);
int io_send(int x);
int io_read_frame(int x);
int client_call(int x);
int client_read(int x);
int queue_ready(int x);
int proto_decode_reply(int x);
int proto_op_name(int x);

int stream_flush(int x) { return x + 1; }
int stream_get(int x) { return x + 2; }
int io_connect(int x) { return x + 3; }
int io_send(int x) { return x + 4; }
int io_read_frame(int x) { return x + 5; }
int client_call(int x) { return x + 6; }
int client_read(int x) { return x + 7; }
int queue_ready(int x) { return x + 8; }
int proto_decode_reply(int x) { return x + 9; }
int proto_op_name(int x) { return x + 10; }

int main(int argc, char **argv)
{
	int own;

	if (argc != 3) {
		fprintf(stderr, "usage: static_names SOCKET NAME\n");
		return 2;
	}
	own = stream_flush(0) + stream_get(0) + io_connect(0) + io_send(0) + io_read_frame(0) +
	      client_call(0) + client_read(0) + queue_ready(0) + proto_decode_reply(0) +
	      proto_op_name(0);
	if (own != 55) {
		fprintf(stderr, "static_names: own functions gave %d, not 55\n", own);
		return 1;
	}
	if (round_trip("static_names", argv[1], argv[2]))
		return 1;
	printf("static_names %s: ok with the static libipcclient %s\n", argv[2], IPC_CLIENT_VERSION);
	return 0;
}
