/*
 * consumer.c - a program from outside the ipcd tree, built against the
 * installed libipcclient (through pkg-config, or find_package): it puts a
 * message through a queue of the daemon at argv[1] and reads it back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipcclient.h>

#include "round_trip.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: consumer SOCKET NAME\n");
		return 2;
	}
	if (round_trip("consumer", argv[1], argv[2]))
		return 1;
	printf("consumer %s: ok with libipcclient %s\n", argv[2], IPC_CLIENT_VERSION);
	return 0;
}
