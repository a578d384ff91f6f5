#!/usr/bin/env python3
"""Write the fuzz seed corpus: real ipcd frames, as a client sends them.

corpus/daemon/ holds conversations (a hello, then requests) for fuzz_daemon;
corpus/codec/ holds single requests, replies and pushes for fuzz_codec;
corpus/qlog/ holds durable queue logs (both formats, whole, torn, damaged)
for fuzz_qlog; corpus/ring/ holds queue rings (proto/ipc_ring.h) with
messages, half-written, corrupt, then operations, for fuzz_ring.  Run it from
anywhere; it rewrites the four directories, but for the inputs named crash-*:
those a fuzzer failed on, kept as found so that every run replays them.  Op
codes and keys are those of proto/ipc_protocol.h."""
import os
import struct

HELLO, PING, STATUS, LIST, CLIENTS, UNLINK, CLOSE, SETNAME, CHMOD, CHOWN = range(1, 11)
CLIENT_KILL, CONFIG, CONFIG_SET, MONITOR = range(0x0b, 0x0f)
PROTO_VERSION = 4
AUTOREMOVE = 0x20
Q_OPEN, Q_PUT, Q_GET, Q_SIZE, Q_PEEK, Q_STAT, Q_PURGE = range(0x10, 0x17)
Q_TASK_DONE, Q_JOIN = 0x1b, 0x1c


class Bin(bytes):
    pass


def pack(v):
    """The msgpack encoding of v (int, str, Bin, list, dict, None, bool)."""
    if v is None:
        return b'\xc0'
    if v is True or v is False:
        return b'\xc3' if v else b'\xc2'
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack('b', v)
        if v >= 0:
            return b'\xcf' + struct.pack('>Q', v) if v >= 1 << 32 else b'\xce' + struct.pack('>I', v)
        return b'\xd3' + struct.pack('>q', v)
    if isinstance(v, Bin):
        return b'\xc6' + struct.pack('>I', len(v)) + bytes(v)
    if isinstance(v, str):
        b = v.encode()
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else b'\xd9' + bytes([len(b)])) + b
    if isinstance(v, list):
        return b'\xdc' + struct.pack('>H', len(v)) + b''.join(pack(x) for x in v)
    if isinstance(v, dict):
        return b'\xde' + struct.pack('>H', len(v)) + b''.join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(v)


def frame(*items):
    body = pack(list(items))
    return struct.pack('>I', len(body)) + body


def hello(i=1):
    return frame(HELLO, i, PROTO_VERSION, 4242, "fuzz")


def conversations():
    q = "jobs"
    yield 'queue_roundtrip', (hello() + frame(Q_OPEN, 2, q, 1, {"maxsize": 4}) +
                              frame(Q_PUT, 3, 1, 0, Bin(b'hello')) + frame(Q_SIZE, 4, 1) +
                              frame(Q_PEEK, 5, 1) + frame(Q_GET, 6, 1, 0) + frame(Q_STAT, 7, 1) +
                              frame(CLOSE, 8, 1) + frame(UNLINK, 9, q, 1))
    yield 'queue_full_and_wait', (hello() + frame(Q_OPEN, 2, q, 3, {"maxsize": 1, "mode": 0o644}) +
                                  frame(Q_PUT, 3, 1, 0, Bin(b'a')) + frame(Q_PUT, 4, 1, 100, Bin(b'b')) +
                                  frame(Q_GET, 5, 1, -1) + frame(Q_GET, 6, 1, 50) +
                                  frame(Q_PURGE, 7, 1))
    yield 'server', (hello() + frame(PING, 2) + frame(STATUS, 3) + frame(LIST, 4) + frame(CLIENTS, 5))
    yield 'permissions', (hello() + frame(Q_OPEN, 2, q, 1, None) + frame(CHMOD, 3, q, 0o640) +
                          frame(CHOWN, 4, q, 1000, 0xffffffff) + frame(Q_PUT, 5, 1, 0, Bin(b'x')) +
                          frame(UNLINK, 6, q, 0))
    yield 'ack', (hello() + frame(Q_OPEN, 2, q, 1, {"ack": 1}) + frame(Q_PUT, 3, 1, 0, Bin(b'1')) +
                  frame(Q_PUT, 4, 1, 0, Bin(b'2')) + frame(Q_GET, 5, 1, 0) + frame(Q_TASK_DONE, 6, 1) +
                  frame(Q_GET, 7, 1, 0) + frame(Q_JOIN, 8, 1, 10) + frame(Q_TASK_DONE, 9, 1) +
                  frame(Q_TASK_DONE, 10, 1) + frame(Q_JOIN, 11, 1, 0))
    yield 'durable', (hello() + frame(Q_OPEN, 2, "d", 1, {"durable": 1, "ack": 1}) +
                      frame(Q_PUT, 3, 1, 0, Bin(b'kept')) + frame(Q_GET, 4, 1, 0) +
                      frame(Q_TASK_DONE, 5, 1) + frame(Q_PURGE, 6, 1) + frame(UNLINK, 7, "d", 1))
    yield 'admin', (hello() + frame(MONITOR, 2) + frame(CONFIG, 3) +
                    frame(CONFIG_SET, 4, "max-clients", "8") + frame(CONFIG_SET, 5, "socket", "/x") +
                    frame(CLIENT_KILL, 6, 1) + frame(CLIENT_KILL, 7, 99) +
                    frame(Q_OPEN, 8, "gone", 1 | AUTOREMOVE, None) + frame(Q_PUT, 9, 1, 0, Bin(b'x')) +
                    frame(CLIENTS, 10))
    yield 'before_hello', frame(Q_OPEN, 1, q, 1, None) + hello(2)
    yield 'bad_types', (hello() + frame(Q_OPEN, 2, 5, "x", []) + frame(Q_PUT, 3, "h", 0, 1) +
                        frame(0x7f, 4) + frame(Q_GET, 5))
    yield 'truncated', (hello() + frame(Q_OPEN, 2, q, 1, None))[:-3]
    yield 'huge_length', hello() + b'\x7f\xff\xff\xff' + pack([Q_PUT, 2, 1, 0])


def singles():
    yield 'req_open', frame(Q_OPEN, 2, "name", 1, {"maxsize": 10, "maxbytes": 100, "mode": 0o600})
    yield 'req_put', frame(Q_PUT, 3, 1, -1, Bin(b'\x93\x2a\xc0\xa5hello'))
    yield 'req_chown', frame(CHOWN, 4, "name", 0xffffffff, 100)
    yield 'reply_ok', frame(3, 0)
    yield 'reply_data', frame(4, 0, Bin(b'data'))
    yield 'reply_error', frame(5, -11, "queue 'jobs' is empty")
    yield 'push_error', frame(0, "error", -71, "malformed frame")


def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82f63b78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff


def record(version, rtype, body):
    """One log record (daemon/storage/record.h)."""
    tail = struct.pack('<IB', len(body), rtype) + body
    crc = struct.pack('<I', crc32c(tail))
    return (crc if version == 1 else bytes([0xd9, 0x51, 0x52, 0xa7]) + crc) + tail


def qlog(version, ops):
    out = b'IPCDQLOG' + struct.pack('<II', version, 0)
    meta = pack({'name': 'q', 'uid': 0, 'gid': 0, 'mode': 0o600, 'maxsize': 0,
                 'maxbytes': 0, 'ack': 1, 'ctime': 1})
    out += record(version, 1, meta)
    for rtype, i, data in ops:
        out += record(version, rtype, struct.pack('<Q', i) + data)
    return out


def logs():
    ops = [(2, i, b'msg%d' % i) for i in range(1, 9)] + [(3, 2, b''), (4, 1, b'')]
    for v in (1, 2):
        whole = qlog(v, ops)
        yield 'v%d_whole' % v, whole
        yield 'v%d_torn' % v, whole[:-5]
        damaged = bytearray(whole)
        damaged[len(whole) // 2] ^= 0xff
        yield 'v%d_damaged' % v, bytes(damaged)


RING_SLOTS, RING_SLOT_BYTES, RING_HDR_BYTES = 8, 64, 4096


RING_OPS = bytes([0x06, 0x01, 0x03, 0x86, 0x0c, 0x05, 0x44, 0x00, 0x02, 0x03])
# A socket put of 56 bytes (op 0x86 puts the first 66 of the operations, or all
# of them), larger than a slot's 48: it goes to the spill, and the next get
# (0x0c) finds the ring empty and brings it to the front.  Ops 0x04 do nothing.
RING_OPS_SPILL = bytes([0x86, 0x0c]) + bytes([0x04] * 54)


def ring(msgs, head=0, claimed=0, bad_len=False, ops=RING_OPS):
    """fuzz_ring's input: bounds, then a ring of 8 slots of 64 bytes holding msgs
    from position head, claimed more slots not yet published, then operations.
    A slot keeps its sequence number minus its index."""
    hdr = bytearray(RING_HDR_BYTES)
    struct.pack_into('<QIIIIQQ', hdr, 0, 0x31474e4952435049, 1, RING_HDR_BYTES,
                     RING_SLOTS, RING_SLOT_BYTES, 0, 0)
    tail = head + len(msgs)
    struct.pack_into('<QQ', hdr, 64, tail + claimed, len(msgs))          # tail, puts
    struct.pack_into('<QQ', hdr, 128, head, 0)                           # head, gets
    struct.pack_into('<QQ', hdr, 192, len(msgs), sum(map(len, msgs)))    # count, bytes
    slots = bytearray(RING_SLOTS * RING_SLOT_BYTES)
    for pos in range(head, head + RING_SLOTS):
        i = pos % RING_SLOTS
        if pos < tail:
            m = msgs[pos - head]
            length = 0xfffffff0 if bad_len and pos == head else len(m)
            struct.pack_into('<QII', slots, i * RING_SLOT_BYTES, pos + 1 - i, length, 0)
            slots[i * RING_SLOT_BYTES + 16:i * RING_SLOT_BYTES + 16 + len(m)] = m
        else:
            struct.pack_into('<QII', slots, i * RING_SLOT_BYTES, pos - i, 0, 0)
    return b'\x03\x81' + bytes(hdr) + bytes(slots) + ops


def rings():
    yield 'empty', ring([])
    yield 'three', ring([b'one', b'two', b'three'])
    yield 'wrapped', ring([b'%d' % i for i in range(6)], head=13)
    yield 'full', ring([b'x' * 48] * 8)
    yield 'half_written', ring([b'a', b'b'], claimed=2)
    yield 'bad_length', ring([b'a', b'b'], bad_len=True)
    yield 'oversized_to_front', ring([], ops=RING_OPS_SPILL)


def write(dirname, items):
    os.makedirs(dirname, exist_ok=True)
    for f in os.listdir(dirname):
        if not f.startswith('crash-'):
            os.remove(os.path.join(dirname, f))
    for name, data in items:
        with open(os.path.join(dirname, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
    write(os.path.join(here, 'daemon'), conversations())
    write(os.path.join(here, 'codec'), list(singles()) + list(conversations()))
    write(os.path.join(here, 'qlog'), logs())
    write(os.path.join(here, 'ring'), rings())
