/*
 * error.c - ipc_strerror: messages for the errors libipcclient returns, in
 * the broker's terms where errno's own words would mislead.
 */
#include <errno.h>
#include <string.h>

#include "ipcclient.h"

const char *ipc_strerror(int err)
{
	const char *s;

	if (err < 0)
		err = -err;
	switch (err) {
	case 0: return "Success";
	case ENOENT: return "No such object or socket";
	case EEXIST: return "Object exists";
	case ETIMEDOUT: return "Timed out";
	case EAGAIN: return "Would block (queue empty or full, or lock held)";
	case EMSGSIZE: return "Message too large";
	case ENOBUFS: return "Broker memory budget exhausted";
	case EIDRM: return "Object was removed";
	case ECONNREFUSED: return "ipcd is not running (connection refused)";
	case ECONNRESET: return "Connection to ipcd lost";
	case ENOTCONN: return "Not connected to ipcd";
	case ESHUTDOWN: return "ipcd is shutting down";
	case EUSERS: return "ipcd has too many clients";
	case EPROTO: return "Protocol error";
	case EPROTONOSUPPORT: return "ipcd speaks another protocol version";
	case EBADF: return "Bad handle (or a one-way pipe end used the wrong way)";
	case EPIPE: return "The other end of the pipe is closed";
	case EBUSY: return "The pipe end belongs to another process";
	case ENAMETOOLONG: return "Name too long";
	case EOPNOTSUPP: return "Operation not supported by ipcd";
	case EACCES: return "Permission denied";
	case EPERM: return "Not the object's owner";
	case ERANGE: return "Index or range outside the array";
	case EFBIG: return "Array larger than ipcd's limit";
	case ENOSPC: return "No room in ipcd (object limit, shared memory budget, or its disk is full)";
	case EDEADLK: return "Lock already held by this process";
	case ESRCH: return "No such client";
	case EBADMSG: return "Not a message of that type";
	}
	s = strerrordesc_np(err);
	return s ? s : "Unknown error";
}
