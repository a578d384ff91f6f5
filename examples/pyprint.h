/*
 * pyprint.h - print msgpack values the way Python's print() shows the
 * objects they encode, so that the examples print what the tutorial's
 * Python printed: ['hello world'], [42, None, 'hello'].
 */
#ifndef PYPRINT_H
#define PYPRINT_H

#include <stddef.h>
#include <stdio.h>
#include <msgpack.h>

/* Write repr(o) to out: None, True, 42, 5.35, 'text', [1, 2], {'k': 1}. */
void py_repr(FILE *out, const msgpack_object *o);

/*
 * print(x) for the one msgpack value in data (len bytes): a string as it
 * is, anything else as its repr, then a newline.  0, or -1 (printing
 * nothing) when data is not exactly one msgpack value.
 */
int py_print(FILE *out, const void *data, size_t len);

#endif
