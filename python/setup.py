"""Build and install the ipcd package: the _ipcd extension over libipcclient
and the Python layer with multiprocessing's names.

libipcclient is found with pkg-config (package ipcclient, installed with
ipcd), or where the environment says, for a build against a source tree:
  IPCD_CLIENT_INCLUDE  directory of ipcclient.h
  IPCD_CLIENT_LIBDIR   directory of libipcclient.so (also the run-time path)
msgpack-c's headers are found with pkg-config (package msgpack).
"""
import os
import shlex
import subprocess

from setuptools import Extension, setup


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args], check=True, capture_output=True,
                             text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out)


def flags():
    inc = os.environ.get("IPCD_CLIENT_INCLUDE")
    libdir = os.environ.get("IPCD_CLIENT_LIBDIR")
    cflags, libs, rpath = [], [], []
    if inc or libdir:
        if not (inc and libdir):
            raise SystemExit("ipcd: set both IPCD_CLIENT_INCLUDE and IPCD_CLIENT_LIBDIR")
        cflags = ["-I" + inc]
        libs = ["-L" + libdir, "-lipcclient"]
        rpath = [libdir]
    else:
        cflags = pkg_config("--cflags", "ipcclient")
        libs = pkg_config("--libs", "ipcclient")
        if cflags is None or libs is None:
            raise SystemExit("ipcd: libipcclient not found by pkg-config (install ipcd, "
                             "set PKG_CONFIG_PATH, or set IPCD_CLIENT_INCLUDE and "
                             "IPCD_CLIENT_LIBDIR)")
    mp_cflags = pkg_config("--cflags", "msgpack") or []
    mp_libs = pkg_config("--libs", "msgpack") or ["-lmsgpackc"]
    return cflags + mp_cflags, libs + mp_libs, rpath


cflags, libs, rpath = flags()
ext = Extension(
    "ipcd._ipcd",
    sources=["src/module.c", "src/call.c", "src/queue.c", "src/pipe.c", "src/array.c"],
    depends=["src/ipcdpy.h", "src/call.h"],
    include_dirs=[f[2:] for f in cflags if f.startswith("-I")],
    extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter",
                        "-Wno-missing-field-initializers", "-Wno-cast-function-type"]
                       + [f for f in cflags if not f.startswith("-I")],
    library_dirs=[f[2:] for f in libs if f.startswith("-L")],
    libraries=[f[2:] for f in libs if f.startswith("-l")],
    runtime_library_dirs=rpath,
)

setup(
    name="ipcd",
    version="0.4.0",
    description="multiprocessing's Queue, Pipe, Array and Value, served by ipcd",
    packages=["ipcd"],
    ext_modules=[ext],
    python_requires=">=3.9",
)
