#!/usr/bin/env python3
"""pyfs: a small filesystem that speaks iomap-harness protocol 1 or 2 at the "fs" level.

Run it under the harness:   iomap-harness fsx --adapter 'exec:python3 examples/fs-server.py'

It is a real (if simple) filesystem with its own extent maps, over the block device image file the
harness hands it in mkfs/mount. It reads and writes only its own metadata; file data is read and
written by the harness's generic layer at the addresses pyfs's mappings give.

Design (no delayed allocation; allocate at ->iomap_begin, convert when the data is on disk):
  * buffered writes and mmap write faults into holes allocate blocks in ->iomap_begin and report
    them UNWRITTEN with IOMAP_F_NEW (only the blocks this call allocated); writeback into them
    asks for an ioend completion (end_ioend), which converts them to written once the data is on
    disk. (Reporting them MAPPED straight away would let a second writer or a write fault that
    meets the block before the first write's data reached it read the block's stale contents
    from the device: the harness's race_write op finds that.)
  * direct writes into holes allocate UNWRITTEN blocks (F_NEW), converted by dio end_io;
  * fallocate allocates UNWRITTEN blocks, converted the same way when data is written into them;
  * holes are reported as holes; reads never allocate.
  * A per-inode sequence number, bumped whenever the inode's extent map changes, is the validity
    cookie that ->iomap_valid checks.

On disk (block size bs):
  block 0                 superblock: b"PYIOMAP1", bs, device blocks, slot blocks, data start
  2 metadata slots        b"PYMETA01", generation, length, crc32, then JSON (names, inodes with
                          their on-disk size and extents); commit writes the older slot, then fsyncs
  data blocks             from data start to the end of the device
Mount picks the valid slot with the highest generation, so unmount + mount keeps every committed
file. Only Python 3 and its standard library are needed.

PYFS_BUG=mapped-at-begin in the environment brings back the first design's bug (fresh blocks of a
buffered write reported MAPPED at once), to see the harness catch it. --defect NAME brings back
others (test/process-durability.test.ts):
  commit-noop      commit writes nothing: the metadata on disk stays that of mkfs
  mount-older-slot mount loads the older of the two metadata slots (the state before the last
                   commit: a remount goes back to the previous sync)
  stale-sv         the state counter sv (feature "sv") never moves after mount, although the
                   extent maps do
  commit-no-flush  commit writes the metadata slot but never flushes the device: what an fsync
                   acknowledged can vanish in a power cut (caught only with feature "devio")
  submit-no-endio  (protocol 2) writeback_submit never asks for end_ioend: unwritten blocks that
                   writeback filled are never converted, so they read as zeroes after a remount
  read-next-block  (with --serve-reads) read_folio_range reads one block past the mapping's address
  lax-overwrite-only  iomap_begin takes an IOMAP_OVERWRITE_ONLY direct write it must refuse with
                   EAGAIN (over a hole, or a sub-block write into an unwritten extent) and maps it
                   as an ordinary direct write: the unaligned write's sub-block zeroing is skipped
  stale-seq        the per-inode sequence number (the validity cookie, and with feature "seq" the
                   number in every reply) never moves: a mapping handed out before writeback or a
                   direct write changed the extents still counts as valid

--serve-reads (protocol 2): pyfs lists read_folio_range and serves buffered reads itself (the
current API's iomap_read_ops, and the partial-block reads before a write), reading the image file
as a FUSE server would answer from its own store; "devio" is then left out (with it the harness,
not the image file, holds the data).

Protocol versions: 1 is the ops table of the 6.12 iomap API (map_blocks, prepare_ioend,
discard_folio, ioends with io_type), 2 that of the current API (writeback_range,
writeback_submit, ioends with IOMAP_IOEND_* flags). pyfs has both: it answers 2 when the harness
offers it and asks for the current API (params.api, from --api current), or with --protocol 2;
else 1. --protocol 1 answers 1 whatever is asked (a server written before version 2).

Optional protocol features (docs/protocol.md, "Features"): it takes up "sv" (every reply carries
a counter of its mapping state, bumped whenever any extent map changes), "reset" (back to the
state after the hello), "devio" (its own device writes and flushes go to the harness in the
replies instead of to the image file, so the harness can cut the power under it: docs/protocol.md
5.5), "seq" (every reply about an inode carries its sequence number, so the harness answers
iomap_valid itself) and "snap" (a reply about an inode whose extents the request changed carries
its snapshot). --no-features answers the hello as a server written before them did;
--features A,B takes up only those.
"""
import base64
import bisect
import json
import os
import struct
import sys
import traceback
import zlib

PROTOCOLS = [1, 2]                        # the protocol versions pyfs speaks
NAME = "pyfs"
IOEND_SHARED, IOEND_UNWRITTEN = 0x1, 0x2  # IOMAP_IOEND_* (protocol 2's ioend flags)

# Mapping types and flags (include/linux/iomap.h, 6.6-6.14 values).
HOLE, DELALLOC, MAPPED, UNWRITTEN, INLINE = 0, 1, 2, 3, 4
F_NEW, F_DIRTY = 0x1, 0x2
WRITE, ZERO, REPORT, FAULT, DIRECT, NOWAIT, OVERWRITE_ONLY, UNSHARE = 1, 2, 4, 8, 16, 32, 64, 128
DIO_UNWRITTEN = 1
U64_MAX = "18446744073709551615"          # (u64)-1: IOMAP_NULL_ADDR on the wire
MAX_FILE = 2 ** 53 - 2 ** 16              # the harness model's largest file offset
BUG_MAPPED_AT_BEGIN = os.environ.get("PYFS_BUG") == "mapped-at-begin"
DEFECTS = ["commit-noop", "mount-older-slot", "stale-sv", "commit-no-flush", "submit-no-endio", "read-next-block", "lax-overwrite-only",
           "stale-seq"]
FEATURES = ["sv", "reset", "devio", "seq", "snap"]  # the optional protocol features pyfs can use
# Requests after which the mapping state may be new without an extent change of the inode named.
STATE_RESETS = ("mkfs", "mount", "create", "unlink", "reset", "load_inode")
DEFECT = None                             # set from --defect in main()

SB_MAGIC = b"PYIOMAP1"
SLOT_MAGIC = b"PYMETA01"
SB_FMT = "<8sIQIQQ"                       # magic, bs, device blocks, slot blocks, data start, device bytes
SLOT_FMT = "<8sQQI"                       # magic, generation, length, crc32

OPTIONAL_OPS = [
    "iomap_valid", "end_ioend", "dio_end_io", "unlink",
    "size_changed", "alloc_range", "punch_blocks", "collapse_blocks", "insert_blocks", "snapshot",
    "metadata_dirty", "check_consistency", "describe_block",
]
OPTIONAL_OPS_V1 = ["prepare_ioend", "discard_folio"]   # protocol 1's writeback hooks
OPTIONAL_OPS_V2 = ["writeback_submit"]                 # protocol 2's
PROTOCOL_CHOICE = None                                 # set from --protocol in main()
SERVE_READS = False                                    # --serve-reads: protocol 2's read_folio_range


class FsErr(Exception):
    def __init__(self, errno, message):
        super().__init__(message)
        self.errno = errno
        self.message = message


# --------------------------------------------------------------------------------------------
# Extent lists: [[lblk, count, pblk, state], ...] sorted by lblk, no overlaps; state 'w' | 'u'
# --------------------------------------------------------------------------------------------

def first_ending_after(ext, lblk):
    """Index of the first extent whose end is beyond lblk (it contains lblk or lies after it)."""
    lo, hi = 0, len(ext)
    while lo < hi:
        mid = (lo + hi) // 2
        if ext[mid][0] + ext[mid][1] <= lblk:
            lo = mid + 1
        else:
            hi = mid
    return lo


def lookup(ext, lblk):
    """(extent containing lblk or None, start of the next extent or None)."""
    i = first_ending_after(ext, lblk)
    if i < len(ext) and ext[i][0] <= lblk:
        return ext[i], None
    return None, (ext[i][0] if i < len(ext) else None)


def split_at(ext, lblk):
    """Split the extent straddling lblk; return the index of the first extent starting at/after it."""
    i = first_ending_after(ext, lblk)
    if i < len(ext) and ext[i][0] < lblk:
        l, c, p, s = ext[i]
        k = lblk - l
        ext[i] = [l, k, p, s]
        ext.insert(i + 1, [lblk, c - k, p + k, s])
        return i + 1
    return i


def mergeable(a, b):
    return a[0] + a[1] == b[0] and a[2] + a[1] == b[2] and a[3] == b[3]


def merge_at(ext, i):
    """Merge extent i with its neighbours where they are contiguous on both sides."""
    if i + 1 < len(ext) and mergeable(ext[i], ext[i + 1]):
        ext[i][1] += ext[i + 1][1]
        del ext[i + 1]
    if 0 < i < len(ext) and mergeable(ext[i - 1], ext[i]):
        ext[i - 1][1] += ext[i][1]
        del ext[i]


def remove_range(ext, lblk, n):
    """Cut [lblk, lblk+n) out of the list; return the pieces removed."""
    if n <= 0:
        return []
    i = split_at(ext, lblk)
    j = split_at(ext, lblk + n)
    removed = ext[i:j]
    del ext[i:j]
    return removed


def insert_extent(ext, lblk, count, pblk, state):
    """Insert into an empty range, merging with neighbours."""
    i = first_ending_after(ext, lblk)
    ext.insert(i, [lblk, count, pblk, state])
    merge_at(ext, i)


def merge_all(ext):
    i = 0
    while i + 1 < len(ext):
        if mergeable(ext[i], ext[i + 1]):
            ext[i][1] += ext[i + 1][1]
            del ext[i + 1]
        else:
            i += 1


# --------------------------------------------------------------------------------------------
# Free space: [[start, count], ...] sorted, merged
# --------------------------------------------------------------------------------------------

class Allocator:
    def __init__(self, start, count, used):
        self.free = []
        cur = start
        for p, n in sorted(used):
            if p > cur:
                self.free.append([cur, p - cur])
            cur = max(cur, p + n)
        if cur < start + count:
            self.free.append([cur, start + count - cur])

    def blocks(self):
        return sum(c for _, c in self.free)

    def take(self, want, goal):
        """Allocate up to `want` contiguous blocks, at or after `goal` if possible: (pblk, got) or None."""
        f = self.free
        if not f:
            return None
        lo, hi = 0, len(f)
        while lo < hi:                      # the first free extent that ends beyond goal
            mid = (lo + hi) // 2
            if f[mid][0] + f[mid][1] <= goal:
                lo = mid + 1
            else:
                hi = mid
        i = lo if lo < len(f) else 0
        s, c = f[i]
        st = goal if s <= goal < s + c else s
        got = min(want, s + c - st)
        pieces = []
        if st > s:
            pieces.append([s, st - s])
        if st + got < s + c:
            pieces.append([st + got, s + c - st - got])
        self.free[i:i + 1] = pieces
        return st, got

    def put(self, pblk, n):
        f = self.free
        lo, hi = 0, len(f)
        while lo < hi:
            mid = (lo + hi) // 2
            if f[mid][0] < pblk:
                lo = mid + 1
            else:
                hi = mid
        f.insert(lo, [pblk, n])
        if lo + 1 < len(f) and f[lo][0] + f[lo][1] == f[lo + 1][0]:
            f[lo][1] += f[lo + 1][1]
            del f[lo + 1]
        if lo > 0 and f[lo - 1][0] + f[lo - 1][1] == f[lo][0]:
            f[lo - 1][1] += f[lo][1]
            del f[lo]


class Inode:
    __slots__ = ("ino", "ext", "disk_size", "seq", "seen", "meta_dirty")
    changes = 0                      # extent map changes of every inode (the state counter sv)

    def __init__(self, ino, ext=None, disk_size=0):
        self.ino = ino
        self.ext = ext if ext is not None else []
        self.disk_size = disk_size
        self.seq = 1                 # the validity cookie: bumped whenever ext changes
        self.seen = self.state()     # ext as of the last bump
        self.meta_dirty = True

    def state(self):
        return [tuple(e) for e in self.ext]

    def note_changes(self):
        """Bump the sequence number if the extent map changed since the last call; True if it did."""
        now = self.state()
        if now == self.seen:
            return False
        self.seen = now
        if DEFECT != "stale-seq":
            self.seq += 1
        self.meta_dirty = True
        Inode.changes += 1
        return True


# --------------------------------------------------------------------------------------------
# The filesystem
# --------------------------------------------------------------------------------------------

class PyFs:
    def __init__(self):
        self.features = set()
        self.protocol = 1            # the version answered in the hello (1: 6.12 ops table, 2: current)
        self.sv = 0                  # the state counter (feature "sv") is sv + Inode.changes
        self.sv_sent = 0
        self.fd = None
        self.hello_bs = 4096
        self.bs = 0
        self.generation = 0
        self.slot = 0
        self.devio = []              # feature "devio": this request's device writes and flushes
        self.busy = []               # (pblk, count) freed since the last commit: not reusable yet

    # ---- the device: the image file, or (feature "devio") the harness ------------------------

    def dev_write(self, fd, data, off, sector=512):
        """Write metadata to the device. With "devio" it goes to the harness in the reply, padded
        to whole sectors (a block device takes nothing smaller); the image file is not touched."""
        if "devio" not in self.features:
            os.pwrite(fd, data, off)
            return
        data = data + b"\0" * (-len(data) % sector)
        self.devio.append({"write": off, "data": base64.b64encode(data).decode()})

    def dev_flush(self, fd):
        """Make every device write so far durable (the harness flushes its volatile cache)."""
        if "devio" not in self.features:
            os.fsync(fd)
            return
        self.devio.append({"flush": True})

    # ---- helpers ----------------------------------------------------------------------------

    def need_mounted(self):
        if self.fd is None:
            raise FsErr("EINVAL", "not mounted")

    def inode(self, p):
        self.need_mounted()
        ino = self.inodes.get(p["ino"])
        if ino is None:
            raise FsErr("ENOENT", "no inode %s" % p["ino"])
        return ino

    def mapping(self, ino, e):
        """The mapping of extent e (written -> MAPPED, unwritten -> UNWRITTEN)."""
        bs = self.bs
        return {"offset": e[0] * bs, "length": e[1] * bs, "addr": e[2] * bs,
                "type": MAPPED if e[3] == "w" else UNWRITTEN, "flags": 0, "cookie": ino.seq}

    def hole(self, ino, lblk, nxt):
        bs = self.bs
        end = nxt * bs if nxt is not None else max(MAX_FILE, (lblk + 1) * bs)
        return {"offset": lblk * bs, "length": end - lblk * bs, "addr": U64_MAX, "type": HOLE, "flags": 0, "cookie": ino.seq}

    def goal(self, ino, lblk):
        """Physical block that would continue the extent before lblk (contiguous files)."""
        i = first_ending_after(ino.ext, lblk)
        if i > 0:
            l, c, p, _ = ino.ext[i - 1]
            g = p + c + (lblk - (l + c))
            if self.data_start <= g < self.total_blocks:
                return g
        return self.data_start

    def alloc(self, ino, lblk, n, state):
        """Allocate up to n blocks at lblk (a hole): returns the count, 0 for ENOSPC."""
        got = self.alloc_map.take(n, self.goal(ino, lblk))
        if got is None:
            return 0
        pblk, cnt = got
        insert_extent(ino.ext, lblk, cnt, pblk, state)
        return cnt

    def free_range(self, ino, lblk, n):
        for l, c, p, s in remove_range(ino.ext, lblk, n):
            self.release(p, c)

    def release(self, pblk, n):
        """Free blocks, but not for reuse before the next commit: until then the metadata on disk
        may still map them, and a power cut would bring back a file whose block holds another
        file offset's data (XFS's busy extents)."""
        self.busy.append((pblk, n))

    # ---- protocol 2: serving buffered reads (iomap_read_ops, --serve-reads) -----------------

    def op_read_folio_range(self, p):
        """The file bytes [pos, pos+length) of a MAPPED mapping (holes and unwritten extents the
        harness zeroes itself), read from the image file at the mapping's address, as a FUSE
        server would answer from wherever it keeps the data."""
        m = p["iomap"]
        addr = int(m["addr"]) + (p["pos"] - int(m["offset"]))
        if DEFECT == "read-next-block":
            addr += self.bs  # the defect: one block off
        data = os.pread(self.fd, p["length"], addr)
        data += bytes(p["length"] - len(data))
        return {"data": base64.b64encode(data).decode()}

    # ---- lifecycle --------------------------------------------------------------------------

    def op_hello(self, p):
        bs = p.get("blockSize", 4096)
        if not (isinstance(bs, int) and 512 <= bs <= 65536 and bs & (bs - 1) == 0):
            bs = 4096
        self.hello_bs = bs
        if OFFER_FEATURES:
            self.features = set(FEATURES) & set(p.get("features") or [])
        self.protocol = self.pick_protocol(p)
        ops = OPTIONAL_OPS + (OPTIONAL_OPS_V2 if self.protocol == 2 else OPTIONAL_OPS_V1)
        if SERVE_READS and self.protocol == 2:
            # Reads come from the image file, which holds the data only while the harness writes
            # to it (without "devio" the harness keeps the device in memory instead).
            ops = ops + ["read_folio_range"]
            self.features.discard("devio")
        reply = {
            "protocol": self.protocol, "name": NAME, "level": "fs",
            "geometry": {"blockSize": bs, "maxFileSize": MAX_FILE},
            "capabilities": {
                "reflink": False, "inline": False, "directIO": True,
                "fallocModes": [0, 0x01, 0x03, 0x10, 0x11, 0x08, 0x20, 0x40, 0x41],
                "ops": sorted(ops),
            },
        }
        if OFFER_FEATURES:
            reply["features"] = sorted(self.features)
        return reply

    @staticmethod
    def pick_protocol(p):
        """Version 2 when the harness speaks it and wants the current API (or --protocol 2 says so)."""
        offered = p.get("protocols") or [1]
        if PROTOCOL_CHOICE is not None:
            return PROTOCOL_CHOICE
        return 2 if 2 in offered and p.get("api") == "current" else 1

    def op_reset(self, p):
        """Back to the state right after the hello: the device closed, every in-core structure gone."""
        if "reset" not in self.features:
            raise FsErr("EOPNOTSUPP", "reset was not agreed in the hello")
        if self.fd is not None:
            os.close(self.fd)
        keep = (self.features, self.hello_bs, self.sv, self.sv_sent)
        self.__init__()
        self.features, self.hello_bs, self.sv, self.sv_sent = keep
        return {}

    def op_ping(self, p):
        return {}

    def op_mkfs(self, p):
        bs = p["blockSize"]
        if not (isinstance(bs, int) and 512 <= bs <= 65536 and bs & (bs - 1) == 0):
            raise FsErr("EINVAL", "block size %r is not a power of two in [512, 65536]" % (bs,))
        if bs < p["sectorSize"]:
            raise FsErr("EINVAL", "block size %d is below the sector size %d" % (bs, p["sectorSize"]))
        size = p["size"]
        total = size // bs
        slot_blocks = max(2, min(16 << 20, max(256 << 10, size // 64)) // bs)
        data_start = 1 + 2 * slot_blocks
        if total < data_start + 16:
            raise FsErr("ENOSPC", "device of %d bytes is too small" % size)
        fd = os.open(p["device"], os.O_RDWR)
        try:
            sb = struct.pack(SB_FMT, SB_MAGIC, bs, total, slot_blocks, data_start, size)
            self.dev_write(fd, sb + b"\0" * (bs - len(sb)), 0)
            empty = {"next_ino": 1, "names": {}, "inodes": {}}
            for slot, gen in ((0, 1), (1, 0)):
                self.write_slot(fd, bs, slot_blocks, slot, gen, empty)
            self.dev_flush(fd)
        finally:
            os.close(fd)
        return {}

    def write_slot(self, fd, bs, slot_blocks, slot, gen, meta):
        body = json.dumps(meta, separators=(",", ":")).encode()
        if len(body) + struct.calcsize(SLOT_FMT) > slot_blocks * bs:
            raise FsErr("ENOSPC", "metadata (%d bytes) does not fit its slot" % len(body))
        hdr = struct.pack(SLOT_FMT, SLOT_MAGIC, gen, len(body), zlib.crc32(body))
        self.dev_write(fd, hdr + body, (1 + slot * slot_blocks) * bs)

    def read_slot(self, slot):
        off = (1 + slot * self.slot_blocks) * self.bs
        hdr = os.pread(self.fd, struct.calcsize(SLOT_FMT), off)
        if len(hdr) < struct.calcsize(SLOT_FMT):
            return None
        magic, gen, length, crc = struct.unpack(SLOT_FMT, hdr)
        if magic != SLOT_MAGIC or length > self.slot_blocks * self.bs:
            return None
        body = os.pread(self.fd, length, off + len(hdr))
        if len(body) != length or zlib.crc32(body) != crc:
            return None
        return gen, json.loads(body)

    def op_mount(self, p):
        if self.fd is not None:      # mount again: drop everything in core, read the disk anew
            os.close(self.fd)
            self.fd = None
        fd = os.open(p["device"], os.O_RDWR)
        sb = os.pread(fd, struct.calcsize(SB_FMT), 0)
        if len(sb) < struct.calcsize(SB_FMT):
            os.close(fd)
            raise FsErr("EINVAL", "no pyfs superblock")
        magic, bs, total, slot_blocks, data_start, size = struct.unpack(SB_FMT, sb)
        if magic != SB_MAGIC:
            os.close(fd)
            raise FsErr("EINVAL", "no pyfs superblock (magic %r)" % magic)
        if size > p["size"]:
            os.close(fd)
            raise FsErr("EINVAL", "pyfs expects %d bytes, the device has %d" % (size, p["size"]))
        self.fd, self.bs, self.total_blocks, self.slot_blocks, self.data_start = fd, bs, total, slot_blocks, data_start
        slots = [s for s in (self.read_slot(0), self.read_slot(1))]
        best = None
        for i, s in enumerate(slots):
            if s is not None and (best is None or s[0] > slots[best][0]):
                best = i
        if DEFECT == "mount-older-slot" and best is not None and slots[1 - best] is not None:
            best = 1 - best
        if best is None:
            os.close(fd)
            self.fd = None
            raise FsErr("EUCLEAN", "no valid metadata slot")
        self.generation, meta = slots[best]
        self.slot = best
        self.next_ino = meta["next_ino"]
        self.names = dict(meta["names"])
        self.inodes = {}
        used = []
        for k, v in meta["inodes"].items():
            ino = Inode(int(k), [list(e) for e in v["ext"]], v["size"])
            ino.meta_dirty = False
            self.inodes[ino.ino] = ino
            used.extend((e[2], e[1]) for e in ino.ext)
        self.alloc_map = Allocator(data_start, total - data_start, used)
        self.busy = []
        return {"blockSize": bs}

    def op_commit(self, p):
        self.need_mounted()
        if DEFECT == "commit-noop":
            return {}
        meta = {
            "next_ino": self.next_ino,
            "names": self.names,
            "inodes": {str(i.ino): {"size": i.disk_size, "ext": i.ext} for i in self.inodes.values()},
        }
        slot = 1 - self.slot
        self.write_slot(self.fd, self.bs, self.slot_blocks, slot, self.generation + 1, meta)
        if DEFECT != "commit-no-flush":
            self.dev_flush(self.fd)
        for pblk, n in self.busy:     # the frees are on disk now: the blocks may be reused
            self.alloc_map.put(pblk, n)
        self.busy = []
        self.generation += 1
        self.slot = slot
        for i in self.inodes.values():
            i.meta_dirty = False
        return {}

    # ---- namespace --------------------------------------------------------------------------

    def op_lookup(self, p):
        self.need_mounted()
        return {"ino": self.names.get(p["name"])}

    def op_create(self, p):
        self.need_mounted()
        name = p["name"]
        if name in self.names:
            raise FsErr("EEXIST", "%s exists" % name)
        ino = Inode(self.next_ino)
        self.next_ino += 1
        self.inodes[ino.ino] = ino
        self.names[name] = ino.ino
        return {"ino": ino.ino}

    def op_unlink(self, p):
        self.need_mounted()
        n = self.names.pop(p["name"], None)
        if n is None:
            raise FsErr("ENOENT", "%s does not exist" % p["name"])
        ino = self.inodes.pop(n)
        for l, c, pb, s in ino.ext:
            self.release(pb, c)
        return {}

    def op_load_inode(self, p):
        return {"size": self.inode(p).disk_size}

    # ---- ->iomap_begin / ->iomap_valid --------------------------------------------------------

    def op_iomap_begin(self, p):
        ino = self.inode(p)
        bs = self.bs
        pos, length, flags = p["pos"], p["length"], p["flags"]
        lblk = pos // bs
        end_blk = -(-(pos + max(length, 1)) // bs)
        e, nxt = lookup(ino.ext, lblk)
        if not (flags & WRITE):
            # reads, zeroing, reports, direct reads: the state as it is
            return {"iomap": self.mapping(ino, e) if e else self.hole(ino, lblk, nxt)}
        if flags & DIRECT:
            if e:
                m = self.mapping(ino, e)
                if flags & OVERWRITE_ONLY and DEFECT != "lax-overwrite-only":
                    covers = m["offset"] + m["length"] >= pos + length
                    aligned = pos % bs == 0 and length % bs == 0
                    if not covers or (e[3] == "u" and not aligned):
                        raise FsErr("EAGAIN", "not a pure overwrite")
                if e[3] == "u" or ino.meta_dirty or pos + length > ino.disk_size:
                    m["flags"] |= F_DIRTY
                return {"iomap": m}
            if flags & (NOWAIT | OVERWRITE_ONLY) and not (DEFECT == "lax-overwrite-only" and not flags & NOWAIT):
                raise FsErr("EAGAIN", "direct write into a hole needs an allocation")
            want = (min(end_blk, nxt) if nxt is not None else end_blk) - lblk
            got = self.alloc(ino, lblk, want, "u")
            if got == 0:
                raise FsErr("ENOSPC", "no free blocks")
            ino.note_changes()
            # Only the blocks this call allocated carry F_NEW, even if they merged with a neighbour.
            return {"iomap": {"offset": lblk * bs, "length": got * bs, "addr": self.pblk_of(ino, lblk) * bs,
                              "type": UNWRITTEN, "flags": F_NEW | F_DIRTY, "cookie": ino.seq}}
        if e:
            return {"iomap": self.mapping(ino, e)}
        if flags & UNSHARE:
            return {"iomap": self.hole(ino, lblk, nxt)}
        if flags & NOWAIT:
            raise FsErr("EAGAIN", "buffered write into a hole needs an allocation")
        want = (min(end_blk, nxt) if nxt is not None else end_blk) - lblk
        state = "w" if BUG_MAPPED_AT_BEGIN else "u"
        got = self.alloc(ino, lblk, want, state)
        if got == 0:
            raise FsErr("ENOSPC", "no free blocks")
        ino.note_changes()
        return {"iomap": {"offset": lblk * bs, "length": got * bs, "addr": self.pblk_of(ino, lblk) * bs,
                          "type": MAPPED if state == "w" else UNWRITTEN, "flags": F_NEW, "cookie": ino.seq}}

    def pblk_of(self, ino, lblk):
        e, _ = lookup(ino.ext, lblk)
        return e[2] + (lblk - e[0])

    def op_iomap_valid(self, p):
        return {"valid": p["iomap"].get("cookie") == self.inode(p).seq}

    # ---- writeback ------------------------------------------------------------------------------

    def op_map_blocks(self, p):
        ino = self.inode(p)
        lblk = p["offset"] // self.bs
        e, nxt = lookup(ino.ext, lblk)
        return {"iomap": self.mapping(ino, e) if e else self.hole(ino, lblk, nxt)}

    def op_writeback_range(self, p):
        """Protocol 2: map the dirty run at pos (the harness queues it). No delayed allocation, so
        an error here would leave nothing reserved to drop from [pos, folioEnd)."""
        ino = self.inode(p)
        lblk = p["pos"] // self.bs
        e, nxt = lookup(ino.ext, lblk)
        return {"iomap": self.mapping(ino, e) if e else self.hole(ino, lblk, nxt)}

    def ioend_unwritten(self, p):
        """The ioend covers unwritten blocks: IOMAP_IOEND_UNWRITTEN (protocol 2) or io_type (1)."""
        return bool(p["flags"] & IOEND_UNWRITTEN) if self.protocol == 2 else p["type"] == UNWRITTEN

    def op_prepare_ioend(self, p):
        ino = self.inode(p)
        extends = p["offset"] + p["size"] > ino.disk_size
        return {"status": p["status"], "endIo": self.ioend_unwritten(p) or extends}

    def op_writeback_submit(self, p):
        """Protocol 2: the same choice of completion, by the ioend flags."""
        if DEFECT == "submit-no-endio":
            return {"status": p["status"], "endIo": False}
        return self.op_prepare_ioend(p)

    def op_end_ioend(self, p):
        """Writeback completion: convert unwritten blocks the data reached, raise the on-disk size."""
        ino = self.inode(p)
        if p["status"] is not None:
            return {}
        self.data_reached(ino, p["isize"], p["offset"], p["size"], self.ioend_unwritten(p))
        return {}

    def data_reached(self, ino, isize, offset, size, convert):
        """Data is on disk over [offset, offset+size): convert unwritten blocks, raise the on-disk size."""
        bs = self.bs
        if convert:
            lblk = offset // bs
            n = -(-(offset + size) // bs) - lblk
            for e in remove_range(ino.ext, lblk, n):
                insert_extent(ino.ext, e[0], e[1], e[2], "w")
        target = min(isize, offset + size)
        if target > ino.disk_size:
            ino.disk_size = target
            ino.meta_dirty = True

    def op_discard_folio(self, p):
        self.inode(p)               # no delayed allocation: nothing is reserved, nothing to release
        return {}

    def op_dio_end_io(self, p):
        ino = self.inode(p)
        if p["error"] is not None or p["size"] == 0:
            return {"error": p["error"]}
        # The core never raises i_size for direct writes: end_io does, through "isize".
        isize = max(p["isize"], p["offset"] + p["size"])
        self.data_reached(ino, isize, p["offset"], p["size"], p["flags"] & DIO_UNWRITTEN)
        return {"error": None, "isize": isize}

    # ---- space operations ---------------------------------------------------------------------

    def op_truncate_blocks(self, p):
        ino = self.inode(p)
        self.free_range(ino, -(-p["newsize"] // self.bs), 2 ** 62)
        return {}

    def op_size_changed(self, p):
        ino = self.inode(p)
        if ino.disk_size != p["isize"]:
            ino.disk_size = p["isize"]
            ino.meta_dirty = True
        return {}

    def op_alloc_range(self, p):
        ino = self.inode(p)
        b, end = p["lblk"], p["lblk"] + p["count"]
        while b < end:
            e, nxt = lookup(ino.ext, b)
            if e:
                b = e[0] + e[1]
                continue
            hole_end = min(nxt, end) if nxt is not None else end
            got = self.alloc(ino, b, hole_end - b, "u")
            if got == 0:
                raise FsErr("ENOSPC", "no free blocks")
            ino.meta_dirty = True
            b += got
        return {}

    def op_punch_blocks(self, p):
        ino = self.inode(p)
        self.free_range(ino, p["lblk"], p["count"])
        return {}

    def op_collapse_blocks(self, p):
        ino = self.inode(p)
        lblk, n = p["lblk"], p["count"]
        self.free_range(ino, lblk, n)
        for e in ino.ext:
            if e[0] >= lblk + n:
                e[0] -= n
        merge_all(ino.ext)
        return {}

    def op_insert_blocks(self, p):
        ino = self.inode(p)
        lblk, n = p["lblk"], p["count"]
        split_at(ino.ext, lblk)
        for e in ino.ext:
            if e[0] >= lblk:
                e[0] += n
        return {}

    # ---- introspection and checks -------------------------------------------------------------

    def op_snapshot(self, p):
        ino = self.inode(p)
        return {"extents": [{"lblk": l, "count": c, "pblk": pb, "state": "written" if s == "w" else "unwritten"}
                            for l, c, pb, s in ino.ext]}

    def op_metadata_dirty(self, p):
        ino = self.inode(p)
        return {"dirty": ino.meta_dirty or p["isize"] != ino.disk_size}

    def op_check_consistency(self, p):
        """fsck over extents: every block owned at most once, never both owned and free or busy,
        and owned + free + busy = the data area. Walks sorted intervals, not blocks (a per-block
        walk of a 1 GiB image was most of pyfs's CPU in a run with power cuts)."""
        self.need_mounted()
        problems = []
        owned = []                   # (first block, end, ino) of every extent
        for ino in self.inodes.values():
            prev = -1
            for l, c, pb, s in ino.ext:
                if c <= 0 or l < prev:
                    problems.append("inode %d: bad extent order at %d" % (ino.ino, l))
                prev = l + c
                if pb < self.data_start or pb + c > self.total_blocks:
                    problems.append("inode %d: extent [%d, +%d) outside the data area" % (ino.ino, pb, c))
                if c > 0:
                    owned.append((pb, pb + c, ino.ino))
        owned.sort()
        union = []                   # owned blocks as disjoint [first, end, ino], ascending
        for first, end, i in owned:
            if union and first < union[-1][1]:
                problems.append("blocks [%d, %d) owned by inodes %d and %d" % (first, min(end, union[-1][1]), union[-1][2], i))
                union[-1][1] = max(union[-1][1], end)
            elif union and first == union[-1][1] and union[-1][2] == i:
                union[-1][1] = end
            else:
                union.append([first, end, i])
        starts = [u[0] for u in union]
        for s, c in self.alloc_map.free + [list(b) for b in self.busy]:
            k = bisect.bisect_right(starts, s) - 1   # the owned run starting at or before s
            if k >= 0 and union[k][1] > s:
                problems.append("block %d is free and owned by inode %d" % (s, union[k][2]))
            elif k + 1 < len(union) and union[k + 1][0] < s + c:
                problems.append("block %d is free and owned by inode %d" % (union[k + 1][0], union[k + 1][2]))
        nowned = sum(e - f for f, e, _ in union)
        busy = sum(c for _, c in self.busy)
        if nowned + self.alloc_map.blocks() + busy != self.total_blocks - self.data_start:
            problems.append("%d blocks owned + %d free + %d busy != %d data blocks" % (
                nowned, self.alloc_map.blocks(), busy, self.total_blocks - self.data_start))
        return {"problems": problems[:20]}

    def op_describe_block(self, p):
        ino = self.inode(p)
        e, _ = lookup(ino.ext, p["pos"] // self.bs)
        if not e:
            return {"text": "hole"}
        return {"text": "%s [%d, +%d) @%d" % ("written" if e[3] == "w" else "unwritten", e[0] * self.bs, e[1] * self.bs, e[2])}


OFFER_FEATURES = True                     # False with --no-features


def main():
    global DEFECT, OFFER_FEATURES, PROTOCOL_CHOICE, SERVE_READS
    args = sys.argv[1:]
    if args[:1] == ["--no-features"]:
        OFFER_FEATURES = False
        args = args[1:]
    if len(args) >= 2 and args[0] == "--features":
        FEATURES[:] = [f for f in args[1].split(",") if f in FEATURES]
        args = args[2:]
    if len(args) >= 2 and args[0] == "--protocol" and args[1] in ("1", "2"):
        PROTOCOL_CHOICE = int(args[1])
        args = args[2:]
    if args[:1] == ["--serve-reads"]:
        SERVE_READS = True
        args = args[1:]
    if len(args) == 2 and args[0] == "--defect" and args[1] in DEFECTS:
        DEFECT = args[1]
    elif args:
        sys.stderr.write("usage: fs-server.py [--no-features | --features A,B] [--protocol 1|2] [--serve-reads] [--defect %s]\n" % "|".join(DEFECTS))
        sys.exit(2)
    fs = PyFs()
    out = sys.stdout
    for raw in sys.stdin.buffer:
        if not raw.strip():
            continue
        req = json.loads(raw)
        rid, method = req["id"], req["method"]
        params = req.get("params") or {}
        if method == "bye":
            out.write(json.dumps({"id": rid, "result": {}}) + "\n")
            out.flush()
            return
        fn = getattr(fs, "op_" + method, None)
        ino = fs.inodes.get(params.get("ino")) if fs.fd is not None else None
        changes = Inode.changes
        try:
            if fn is None:
                raise FsErr("EOPNOTSUPP", "pyfs does not implement %s" % method)
            reply = {"id": rid, "result": fn(params)}
        except FsErr as e:
            reply = {"id": rid, "error": {"errno": e.errno, "message": e.message}}
        except Exception as e:  # a bug in pyfs: report it as EIO and say where on stderr
            traceback.print_exc()
            reply = {"id": rid, "error": {"errno": "EIO", "message": "%s: %s" % (type(e).__name__, e)}}
        # Mappings handed out before a change are stale from now on (the cookie), and so is
        # every snapshot the harness keeps (the state counter).
        if ino is not None:
            ino.note_changes()
        changed = Inode.changes != changes   # some extent map changed in this request (feature "snap")
        if method in STATE_RESETS:
            fs.sv += 1
        if fs.devio:
            # The device requests of this call, in order (pyfs writes only after its checks, so a
            # call that fails has made none).
            if isinstance(reply.get("result"), dict):
                reply["result"]["devio"] = fs.devio
            fs.devio = []
        if "sv" in fs.features and isinstance(reply.get("result"), dict):
            if DEFECT != "stale-sv" or method == "mount":
                fs.sv_sent = fs.sv + Inode.changes
            reply["result"]["sv"] = fs.sv_sent
        if ino is not None and isinstance(reply.get("result"), dict):
            # "seq": the inode's validity cookie as of now (the harness answers iomap_valid with it);
            # "snap": its mapping state, when this request changed it (the monitor needs no snapshot request).
            if "seq" in fs.features:
                reply["result"]["seq"] = ino.seq
            if "snap" in fs.features and changed:
                reply["result"]["snapshot"] = fs.op_snapshot({"ino": ino.ino})
        out.write(json.dumps(reply, separators=(",", ":")) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
