#!/usr/bin/env python3
"""A file-level server for iomap-harness protocol 1: the test file is a real file in the scratch
directory the harness names in its hello (params.scratch), on whatever filesystem holds it.

Run it under the harness:   iomap-harness fsx --adapter 'exec:python3 examples/file-server.py'

What it offers:
  * pread / pwrite / truncate / fsync / fdatasync: the system calls themselves;
  * mapread / mapwrite: emulated with pread/pwrite with mmap's rules (page-granular SIGBUS past the
    EOF page, zeroes past EOF inside it, stores only inside the file);
  * fallocate: through libc's fallocate(2) (ctypes), only the modes that a probe in the scratch
    directory showed the filesystem supports;
  * SEEK_DATA / SEEK_HOLE: lseek(2);
  * close_open: close and reopen. It drops nothing: drop_caches needs root, and POSIX_FADV_DONTNEED
    starts writeback first, which a drop of caches must never do.
It cannot unmount the filesystem it lives on, so it does not claim remount. Standard library only.
"""
import base64
import ctypes
import ctypes.util
import errno
import json
import os
import sys
import traceback

PROTOCOL = 1
PAGE = 4096
FILE_NAME = "fsx.file"
CANDIDATE_MODES = [0, 0x01, 0x03, 0x10, 0x11]    # allocate, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE(|KEEP_SIZE)


class FsErr(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name = name
        self.message = message


def errno_name(num):
    """The harness's name for an errno number (Python calls 95 ENOTSUP; the harness EOPNOTSUPP)."""
    if num == errno.EOPNOTSUPP:
        return "EOPNOTSUPP"
    return errno.errorcode.get(num, "EIO")


_libc = None


def libc_fallocate():
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            _libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
        except (OSError, AttributeError):
            _libc = False
    return _libc.fallocate if _libc else None


def fallocate(fd, mode, off, length):
    fn = libc_fallocate()
    if fn is None:
        raise FsErr("EOPNOTSUPP", "no fallocate(2) in this libc")
    if fn(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise FsErr(errno_name(e), "fallocate(0x%x, %d, %d): %s" % (mode, off, length, os.strerror(e)))


class FileServer:
    def __init__(self):
        self.dir = None
        self.fd = None
        self.modes = []

    def path(self):
        return os.path.join(self.dir, FILE_NAME)

    def need_open(self):
        if self.fd is None:
            raise FsErr("EBADF", "the test file is not open")
        return self.fd

    def probe_modes(self):
        """Which fallocate modes the scratch filesystem supports (a throw-away probe file)."""
        probe = os.path.join(self.dir, ".probe")
        ok = []
        for mode in CANDIDATE_MODES:
            fd = os.open(probe, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.pwrite(fd, b"x" * (4 * PAGE), 0)
                fallocate(fd, mode, PAGE, PAGE)
                ok.append(mode)
            except FsErr:
                pass
            finally:
                os.close(fd)
        os.unlink(probe)
        return ok

    def op_hello(self, p):
        self.dir = p.get("scratch")
        if not self.dir or not os.path.isdir(self.dir):
            raise FsErr("EINVAL", "hello needs params.scratch, an existing directory")
        self.modes = self.probe_modes()
        bs = os.statvfs(self.dir).f_bsize
        return {
            "protocol": PROTOCOL, "name": "pyfile", "level": "file",
            "geometry": {"blockSize": bs, "pageSize": PAGE, "maxFileSize": 2 ** 40},
            "capabilities": {"mmap": True, "fallocModes": self.modes, "seek": True, "remount": False},
        }

    def op_ping(self, p):
        return {}

    def op_open(self, p):
        if self.fd is not None:
            os.close(self.fd)
        self.fd = os.open(self.path(), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        return {}

    def op_size(self, p):
        return {"size": os.fstat(self.need_open()).st_size}

    def op_pread(self, p):
        return {"data": base64.b64encode(os.pread(self.need_open(), p["len"], p["off"])).decode()}

    def op_pwrite(self, p):
        data = base64.b64decode(p["data"])
        fd = self.need_open()
        done = 0
        while done < len(data):
            n = os.pwrite(fd, data[done:], p["off"] + done)
            if n <= 0:
                break
            done += n
        return {"written": done}

    def op_truncate(self, p):
        os.ftruncate(self.need_open(), p["size"])
        return {}

    def op_fsync(self, p):
        os.fsync(self.need_open())
        return {}

    def op_fdatasync(self, p):
        os.fdatasync(self.need_open())
        return {}

    def mapped_end(self):
        size = os.fstat(self.need_open()).st_size
        return size, -(-size // PAGE) * PAGE

    def op_mapread(self, p):
        size, end = self.mapped_end()
        off, n = p["off"], p["len"]
        if off + n > end:
            raise FsErr("SIGBUS", "access to [%d, %d) beyond the EOF page (size %d)" % (off, off + n, size))
        data = os.pread(self.fd, n, off) if off < size else b""
        return {"data": base64.b64encode(data + b"\0" * (n - len(data))).decode()}

    def op_mapwrite(self, p):
        size, end = self.mapped_end()
        data = base64.b64decode(p["data"])
        off = p["off"]
        if off + len(data) > end:
            raise FsErr("SIGBUS", "store to [%d, %d) beyond the EOF page (size %d)" % (off, off + len(data), size))
        inside = data[:max(0, size - off)]      # stores past EOF in the last page never reach the file
        if inside:
            os.pwrite(self.fd, inside, off)
        if p.get("msync", True):
            os.fdatasync(self.fd)               # msync(MS_SYNC)
        return {}

    def op_fallocate(self, p):
        if p["mode"] not in self.modes:
            raise FsErr("EOPNOTSUPP", "fallocate mode 0x%x" % p["mode"])
        fallocate(self.need_open(), p["mode"], p["off"], p["len"])
        return {}

    def op_seek_data(self, p):
        return {"offset": os.lseek(self.need_open(), p["off"], os.SEEK_DATA)}

    def op_seek_hole(self, p):
        return {"offset": os.lseek(self.need_open(), p["off"], os.SEEK_HOLE)}

    def op_close_open(self, p):
        fd = self.need_open()
        os.close(fd)
        self.fd = os.open(self.path(), os.O_RDWR)
        return {}


def main():
    srv = FileServer()
    out = sys.stdout
    for raw in sys.stdin.buffer:
        if not raw.strip():
            continue
        req = json.loads(raw)
        rid, method, params = req["id"], req["method"], req.get("params") or {}
        if method == "bye":
            out.write(json.dumps({"id": rid, "result": {}}) + "\n")
            out.flush()
            break
        fn = getattr(srv, "op_" + method, None)
        try:
            if fn is None:
                raise FsErr("EOPNOTSUPP", "pyfile does not implement %s" % method)
            reply = {"id": rid, "result": fn(params)}
        except FsErr as e:
            reply = {"id": rid, "error": {"errno": e.name, "message": e.message}}
        except OSError as e:
            reply = {"id": rid, "error": {"errno": errno_name(e.errno or errno.EIO), "message": str(e)}}
        except Exception as e:
            traceback.print_exc()
            reply = {"id": rid, "error": {"errno": "EIO", "message": "%s: %s" % (type(e).__name__, e)}}
        out.write(json.dumps(reply, separators=(",", ":")) + "\n")
        out.flush()
    if srv.fd is not None:
        os.close(srv.fd)


if __name__ == "__main__":
    main()
