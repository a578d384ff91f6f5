"""What the ipcd package's modules share: the socket, names for anonymous
objects, removing what a process made when it is done with it, and
pickling as multiprocessing does."""
import itertools
import os
import pickle
import secrets

from multiprocessing import util
from multiprocessing.reduction import ForkingPickler

from . import _ipcd

_socket = None
_counter = itertools.count(1)
# Types the pickler writes itself, never asking a reducer: ForkingPickler's
# reducers cannot change their bytes.
_PLAIN = frozenset((int, float, str, bytes, bool, type(None)))


def dumps(obj):
    """obj pickled as multiprocessing pickles it (ForkingPickler); a plain
    object by pickle.dumps, the same bytes without the ForkingPickler (and
    the copy of its reducer table) that each ForkingPickler.dumps makes."""
    if type(obj) in _PLAIN:
        return pickle.dumps(obj)
    return ForkingPickler.dumps(obj)


def set_socket(path):
    """Use ipcd at path (None: $IPCD_SOCKET, else libipcclient's default)
    for objects made or opened afterwards in this process and its children."""
    global _socket
    _socket = os.fspath(path) if path is not None else None


def get_socket():
    return _socket


def anonymous_name(kind):
    """A name no other object has, for an object made without one; ipcd
    needs a name to let a child process reopen it."""
    return "py.%s.%d.%d.%s" % (kind, os.getpid(), next(_counter), secrets.token_hex(4))


def _unlink(kind, name, path):
    try:
        _ipcd.unlink(kind, name, path)
    except OSError:
        pass


def remove_when_done(owner, kind, name, path):
    """Unlink name when owner is collected in this process, or when it exits
    (after its children were joined); never in a child that inherited it."""
    util.Finalize(owner, _unlink, (kind, name, path), exitpriority=-10)
