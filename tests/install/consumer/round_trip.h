/*
 * round_trip.h - what both consumer programs do with the installed library:
 * put "hello from NAME" through queue NAME of the daemon at sock, read it
 * back and compare.
 */
#ifndef ROUND_TRIP_H
#define ROUND_TRIP_H

/* 0, or 1 after saying on stderr (prefixed by prog) what failed. */
int round_trip(const char *prog, const char *sock, const char *name);

#endif
