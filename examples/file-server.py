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
  * COLLAPSE_RANGE / INSERT_RANGE: the system call where the filesystem has them, else done here
    by moving the tail with pread/pwrite and ftruncate, with the kernel's rules (block aligned,
    collapse ending before EOF, insert starting before it, EINVAL otherwise);
  * close_open: close and reopen. It drops nothing: drop_caches needs root, and POSIX_FADV_DONTNEED
    starts writeback first, which a drop of caches must never do;
  * remount: what a clean unmount and mount is for this server — everything written back (fsync),
    the file closed and opened again;
  * the declared maximum file size (geometry.maxFileSize) is enforced: EFBIG past it, as
    s_maxbytes is in the kernel.
Standard library only.

--defect NAME brings back a bug, to see the harness catch it (test/process-durability.test.ts):
  remount-loses-unsynced  remount reloads the file as its last fsync left it (what a server that
                          keeps a write-back log and replays it only up to the last sync does)
  remount-loses-synced    remount reloads the file as the fsync before the last one left it
  fsync-noop              fsync and fdatasync answer success but make nothing durable (the
                          write-back log is never synced), so remount reloads the file as it
                          was opened: the "commit does nothing" bug of a file-level server
  lax-collapse            collapse/insert done here without the alignment and EOF checks
  lax-size-limit          no EFBIG past the declared maximum file size (the host's larger
                          limit applies instead)
  size-lies               the file size carried in replies (feature "size") is one byte too
                          large after a write; the size request itself answers the truth
  no-reset                reset (feature "reset") is acknowledged but drops nothing, and open
                          keeps a file that is already open as it is

Optional protocol features (docs/protocol.md, "Features"): it takes up every one the harness
offers — "size" (every reply carries the file size), "binary" (data in length-prefixed binary
frames, not base64) and "reset" (back to the state after the hello, for check's server reuse).
--no-features answers the hello as a server written before them did (to test that such servers
still work).
"""
import argparse
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
COLLAPSE, INSERT = 0x08, 0x20                      # done here when the filesystem lacks them
MAX_FILE = 2 ** 40                                 # the maximum file size this server declares
DEFECTS = ["remount-loses-unsynced", "remount-loses-synced", "fsync-noop", "lax-collapse", "lax-size-limit", "size-lies", "no-reset"]
FEATURES = ["size", "binary", "reset"]                  # the optional features this server can use


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
    def __init__(self, defect=None, features=True):
        self.offer_features = features
        self.features = set()          # the features agreed in the hello
        self.dir = None
        self.fd = None
        self.modes = []
        self.kernel_shift = set()      # collapse/insert modes the filesystem itself has
        self.defect = defect
        self.synced = [b"", b""]       # the file at the last two syncs (for the remount defects)

    def path(self):
        return os.path.join(self.dir, FILE_NAME)

    def need_open(self):
        if self.fd is None:
            raise FsErr("EBADF", "the test file is not open")
        return self.fd

    def probe_modes(self, modes, unit):
        """Which of these fallocate modes the scratch filesystem does (a throw-away probe file,
        four units long, each mode tried on its second unit)."""
        probe = os.path.join(self.dir, ".probe")
        ok = []
        for mode in modes:
            fd = os.open(probe, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.pwrite(fd, b"x" * (4 * unit), 0)
                fallocate(fd, mode, unit, unit)
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
        self.bs = os.statvfs(self.dir).f_bsize
        self.modes = self.probe_modes(CANDIDATE_MODES, PAGE)
        # Whether the filesystem does collapse and insert itself (ext4, xfs) or not (tmpfs).
        self.kernel_shift = set(self.probe_modes((COLLAPSE, INSERT), self.bs))
        reply = {
            "protocol": PROTOCOL, "name": "pyfile", "level": "file",
            "geometry": {"blockSize": self.bs, "pageSize": PAGE, "maxFileSize": MAX_FILE},
            "capabilities": {"mmap": True, "fallocModes": self.modes + [COLLAPSE, INSERT], "seek": True, "remount": True},
        }
        if self.offer_features:
            self.features = set(FEATURES) & set(p.get("features") or [])
            reply["features"] = sorted(self.features)
        return reply

    def op_reset(self, p):
        """Back to the state right after the hello: the test file closed and removed."""
        if self.defect == "no-reset":
            return {}
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if os.path.exists(self.path()):
            os.unlink(self.path())
        self.synced = [b"", b""]
        return {}

    def size_now(self, method):
        """The size to carry in a reply (feature "size"), or None."""
        if "size" not in self.features or self.fd is None:
            return None
        size = os.fstat(self.fd).st_size
        if self.defect == "size-lies" and method in ("pwrite", "direct_write"):
            size += 1
        return size

    def check_limit(self, end, what):
        """s_maxbytes: nothing may reach past the declared maximum file size."""
        if end > MAX_FILE and self.defect != "lax-size-limit":
            raise FsErr("EFBIG", "%s past the maximum file size %d" % (what, MAX_FILE))

    def op_ping(self, p):
        return {}

    def op_open(self, p):
        if self.defect == "no-reset" and self.fd is not None:
            return {}
        if self.fd is not None:
            os.close(self.fd)
        self.fd = os.open(self.path(), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self.synced = [b"", b""]
        return {}

    def op_size(self, p):
        return {"size": os.fstat(self.need_open()).st_size}

    def op_pread(self, p):
        return {"data": os.pread(self.need_open(), p["len"], p["off"])}

    def op_pwrite(self, p):
        data = payload(p)
        fd = self.need_open()
        if data and p["off"] >= MAX_FILE:
            self.check_limit(p["off"] + 1, "a write")
        data = data[:max(0, MAX_FILE - p["off"])] if self.defect != "lax-size-limit" else data
        done = 0
        while done < len(data):
            n = os.pwrite(fd, data[done:], p["off"] + done)
            if n <= 0:
                break
            done += n
        return {"written": done}

    def op_truncate(self, p):
        self.check_limit(p["size"], "a size")
        os.ftruncate(self.need_open(), p["size"])
        return {}

    def note_sync(self):
        """The remount defects keep what the last two syncs made durable."""
        if self.defect in ("remount-loses-unsynced", "remount-loses-synced"):
            size = os.fstat(self.fd).st_size
            self.synced = [self.synced[1], os.pread(self.fd, size, 0)]

    def op_fsync(self, p):
        os.fsync(self.need_open())
        self.note_sync()
        return {}

    def op_fdatasync(self, p):
        os.fdatasync(self.need_open())
        self.note_sync()
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
        return {"data": data + b"\0" * (n - len(data))}

    def op_mapwrite(self, p):
        size, end = self.mapped_end()
        data = payload(p)
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
        mode, off, n = p["mode"], p["off"], p["len"]
        if mode not in self.modes and mode not in (COLLAPSE, INSERT):
            raise FsErr("EOPNOTSUPP", "fallocate mode 0x%x" % mode)
        if off < 0 or n <= 0:
            raise FsErr("EINVAL", "fallocate offset %d length %d" % (off, n))
        self.check_limit(off + n, "fallocate")
        fd = self.need_open()
        if mode == INSERT and off % self.bs == 0 and n % self.bs == 0:
            self.check_limit(os.fstat(fd).st_size + n, "insert")    # the declared limit, not the host's
        if mode in (COLLAPSE, INSERT) and (mode not in self.kernel_shift or self.defect == "lax-collapse"):
            self.shift(fd, mode, off, n)
        else:
            fallocate(fd, mode, off, n)
        return {}

    def shift(self, fd, mode, off, n):
        """COLLAPSE_RANGE / INSERT_RANGE by moving the tail (the kernel's rules first)."""
        size = os.fstat(fd).st_size
        if self.defect != "lax-collapse":
            if off % self.bs or n % self.bs:
                raise FsErr("EINVAL", "collapse/insert range not block aligned")
            if mode == COLLAPSE and off + n >= size:
                raise FsErr("EINVAL", "collapse range reaching EOF")
            if mode == INSERT and off >= size:
                raise FsErr("EINVAL", "insert range at or past EOF")
        if mode == COLLAPSE:
            tail = os.pread(fd, max(0, size - off - n), off + n)
            os.pwrite(fd, tail, off)
            os.ftruncate(fd, max(off, size - n))
        else:
            tail = os.pread(fd, max(0, size - off), off)
            os.ftruncate(fd, off)
            os.ftruncate(fd, off + n)           # the inserted range is a hole
            os.pwrite(fd, tail, off + n)

    def op_seek_data(self, p):
        return {"offset": os.lseek(self.need_open(), p["off"], os.SEEK_DATA)}

    def op_seek_hole(self, p):
        return {"offset": os.lseek(self.need_open(), p["off"], os.SEEK_HOLE)}

    def op_close_open(self, p):
        fd = self.need_open()
        os.close(fd)
        self.fd = os.open(self.path(), os.O_RDWR)
        return {}

    def op_remount(self, p):
        fd = self.need_open()
        os.fsync(fd)
        if self.defect in ("remount-loses-unsynced", "remount-loses-synced", "fsync-noop"):
            # The bug: the state reloaded is that of a sync, not everything written (fsync-noop:
            # no sync was ever recorded, so the file as it was opened: empty).
            old = self.synced[0 if self.defect == "remount-loses-synced" else 1]
            os.ftruncate(fd, 0)
            os.pwrite(fd, old, 0)
            os.fsync(fd)
        return self.op_close_open(p)


def payload(p):
    """A request's data: the binary frame that came with it, or base64 in params.data."""
    d = p["data"]
    return d if isinstance(d, bytes) else base64.b64decode(d)


def read_request(inp):
    """The next request (None at end of input). A binary frame ("#N", N bytes, a newline) before
    a request line is that request's params.data."""
    while True:
        raw = inp.readline()
        if not raw:
            return None
        if raw.startswith(b"#"):
            n = int(raw[1:])
            data = inp.read(n)
            if len(data) != n or inp.read(1) != b"\n":
                raise SystemExit("pyfile: a corrupted binary frame from the harness")
            req = json.loads(inp.readline())
            req.setdefault("params", {})["data"] = data
            return req
        if raw.strip():
            return json.loads(raw)


def write_reply(out, reply, binary):
    """One reply line; bytes in result.data go as a binary frame before it, or as base64."""
    res = reply.get("result")
    frame = None
    if isinstance(res, dict) and isinstance(res.get("data"), bytes):
        if binary:
            frame = res.pop("data")
        else:
            res["data"] = base64.b64encode(res["data"]).decode()
    line = json.dumps(reply, separators=(",", ":")).encode() + b"\n"
    # One write per reply: the harness wakes once (a frame, its newline and the line together).
    out.write(line if frame is None else b"".join((b"#%d\n" % len(frame), frame, b"\n", line)))
    out.flush()


def main():
    ap = argparse.ArgumentParser(description="pyfile: a file-level iomap-harness server")
    ap.add_argument("--defect", choices=DEFECTS, help="bring back a bug (see the module comment)")
    ap.add_argument("--no-features", action="store_true", help="take up no optional protocol feature (as an old server)")
    args = ap.parse_args()
    srv = FileServer(args.defect, features=not args.no_features)
    out = sys.stdout.buffer
    inp = sys.stdin.buffer
    while True:
        req = read_request(inp)
        if req is None:
            break
        rid, method, params = req["id"], req["method"], req.get("params") or {}
        if method == "bye":
            write_reply(out, {"id": rid, "result": {}}, False)
            break
        fn = getattr(srv, "op_" + method, None)
        try:
            if fn is None or (method == "reset" and "reset" not in srv.features):
                raise FsErr("EOPNOTSUPP", "pyfile does not implement %s" % method)
            result = fn(params)
            if method not in ("hello", "ping", "reset"):
                size = srv.size_now(method)
                if size is not None:
                    result["size"] = size
            reply = {"id": rid, "result": result}
        except FsErr as e:
            reply = {"id": rid, "error": {"errno": e.name, "message": e.message}}
        except OSError as e:
            reply = {"id": rid, "error": {"errno": errno_name(e.errno or errno.EIO), "message": str(e)}}
        except Exception as e:
            traceback.print_exc()
            reply = {"id": rid, "error": {"errno": "EIO", "message": "%s: %s" % (type(e).__name__, e)}}
        write_reply(out, reply, "binary" in srv.features)
    if srv.fd is not None:
        os.close(srv.fd)


if __name__ == "__main__":
    main()
