/*
 * hostile.h - the fixture of the hostile-client suites (test_hostile.c,
 * test_share.c): one ipcd, a well-behaved client with its queue, and the
 * checks that it is still served after an attack.
 */
#ifndef IPCD_TEST_HOSTILE_H
#define IPCD_TEST_HOSTILE_H

#include "clients.h"
#include "codec.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

extern struct harness h;         /* the daemon under attack */
extern ipc_client *normal;       /* the well-behaved client */
extern ipc_queue *normal_q;      /* its queue */

void hostile_setup(void);
void hostile_teardown(void);

/* Start ipcd, connect the normal client, and take the memory baseline. */
void hostile_start(void);

/* After an attack: the attacker's connections are gone and the normal
 * client gets correct answers. */
void hostile_served(const char *after);

/* hostile_served(), and ipcd's memory is back within 2 MiB of its level
 * (not checked under AddressSanitizer). */
void hostile_still_serving(const char *after);

/* Stop the daemon and insist it exits cleanly (under ASan: without leaks). */
void hostile_stop(void);

/* Expect an error push with status want on fd, then the daemon closing fd. */
void hostile_expect_close(int fd, int want, const char *what);

/* Expect a reply to id with status want on fd, which stays open. */
void hostile_expect_reply(int fd, uint32_t id, int want, const char *what);

/* Append a complete frame of body (a request packed by the caller) to out. */
void hostile_frame_into(msgpack_sbuffer *out, const msgpack_sbuffer *body);

#endif
