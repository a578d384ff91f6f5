/*
 * ctl_json.h - conversion between msgpack and JSON for ipcctl.
 *
 * ipcctl shows what the daemon holds (msgpack) as JSON, and turns the JSON
 * a user types into the msgpack it puts.  The mapping, both ways:
 *   nil <-> null, bool <-> true/false, integers <-> integers,
 *   float32/float64 <-> reals, str <-> strings, array <-> array,
 *   map <-> object.
 * Shown as JSON but not typed back the same way:
 *   - bin is shown as a string, like str;
 *   - a str or bin that is not valid UTF-8 as a whole is shown byte for
 *     byte, each byte as the character of the same number (U+0000 to
 *     U+00FF, that is Latin-1), so ctl_json_dumps() prints 0xff as \u00FF;
 *   - a map key that is not a string becomes the compact JSON text of the
 *     key (1 -> "1", nil -> "null"); a later duplicate key wins;
 *   - an integer above INT64_MAX becomes a real (jansson's integers
 *     are signed 64-bit);
 *   - a NaN or infinite float becomes null (JSON has no such numbers);
 *   - an ext value becomes {"ext": type, "data": its bytes as a string}.
 */
#ifndef CTL_JSON_H
#define CTL_JSON_H

#include <stddef.h>
#include <jansson.h>
#include <msgpack.h>

/*
 * Decode data (len bytes) into u, which the caller initialised and
 * destroys, when it is exactly one msgpack value.  Its shape is checked
 * first, so that a count no message could hold (an array header claiming
 * 2^32 items in five bytes) is refused instead of allocated for.
 * Returns 0, or -EBADMSG when data is not one whole msgpack value.
 */
int ctl_json_unpack(const void *data, size_t len, msgpack_unpacked *u);

/* A new JSON value for o (see above); NULL only when memory runs out. */
json_t *ctl_json_from_msgpack(const msgpack_object *o);

/*
 * A new JSON value for a message of len bytes: the value it encodes when
 * the bytes are exactly one msgpack value, else the bytes themselves as a
 * string (valid UTF-8 as the text it is, other bytes as described above).
 * *was_msgpack (may be NULL) tells which.  NULL only when memory runs out.
 */
json_t *ctl_json_from_message(const void *data, size_t len, int *was_msgpack);

/* A new JSON string for len bytes: the text if valid UTF-8, else Latin-1. */
json_t *ctl_json_from_bytes(const void *data, size_t len);

/*
 * Append the msgpack encoding of v to pk: strings as str, objects as maps
 * with str keys, in the object's order.  Returns 0, or -ENOMEM when the
 * packer's buffer cannot grow.
 */
int ctl_json_to_msgpack(json_t *v, msgpack_packer *pk);

/*
 * The compact JSON text of v (any JSON value, not only arrays and
 * objects), in ASCII with control characters escaped, so that the bytes
 * of a message cannot drive a terminal, and with reals in the fewest
 * digits that read back the same (jansson takes one precision for a whole
 * value, so the real that needs most digits sets it for all).
 * The string is from malloc; NULL when memory runs out.
 */
char *ctl_json_dumps(const json_t *v);

#endif
