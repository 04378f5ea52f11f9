/*
 * iomap_native: the few Linux system calls Node.js does not expose, for iomap-harness.
 *
 * Every function is synchronous. On failure it throws an Error whose `code` is the errno name
 * ("EINVAL", "ENXIO", ...), `errno` the positive number and `syscall` the call that failed;
 * reference/device/native.ts turns that into an FsError. Bad arguments (wrong type, negative,
 * not an integer, out of range) throw the same kind of Error with code "EINVAL".
 *
 * 64-bit values: offsets and lengths are accepted as a Number (a non-negative safe integer) or
 * a BigInt; results are returned as a Number when they fit in 2^53, else as a BigInt.
 *
 *   alignedAlloc(size, align)                      -> ArrayBuffer (zeroed, `align`-aligned memory)
 *   blkGetSize64(fd)                               -> bytes (ioctl BLKGETSIZE64)
 *   blkSszGet(fd)                                  -> logical sector size (ioctl BLKSSZGET)
 *   fallocate(fd, mode, off, len)                  -> undefined
 *   seekData(fd, off) / seekHole(fd, off)          -> offset (lseek SEEK_DATA / SEEK_HOLE)
 *   fiemap(fd, off, len, flags)                    -> [{logical, physical, length, flags}]
 *   ficloneRange(srcFd, srcOff, len, dstFd, dstOff)-> undefined (ioctl FICLONERANGE)
 *   fideduperange(srcFd, srcOff, len, dstFd, dstOff)-> {bytesDeduped, status} (FIDEDUPERANGE)
 *   copyFileRange(fdIn, offIn, fdOut, offOut, len) -> bytes copied by one copy_file_range call
 *   statxDioAlign(path)                            -> {memAlign, offsetAlign} or null
 *   statxAtomic(path)                              -> {unitMin, unitMax, segmentsMax} or null (STATX_WRITE_ATOMIC)
 *   preadv2(fd, buf, off, flags)                   -> bytes read into the Uint8Array (one preadv2 call)
 *   pwritev2(fd, buf, off, flags)                  -> bytes written from the Uint8Array (one pwritev2 call)
 *   exchangeRange(fd, off1, len, off2, flags)      -> undefined (XFS_IOC_EXCHANGE_RANGE, both ranges in fd's file)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/fiemap.h>
#include <linux/stat.h>
#include <node_api.h>

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif
#ifndef STATX_WRITE_ATOMIC
#define STATX_WRITE_ATOMIC 0x00010000U
#endif
/* struct statx offsets of the atomic write fields (uapi, 6.11+), for older headers. */
#define STATX_OFF_AWU_MIN 0xa8
#define STATX_OFF_AWU_MAX 0xac
#define STATX_OFF_AWU_SEGMENTS 0xb0
/* struct xfs_exchange_range (uapi xfs_fs.h, 6.10+): s32 file1_fd, u32 pad, u64 file1_offset,
 * u64 file2_offset, u64 length, u64 flags; XFS_IOC_EXCHANGE_RANGE is _IOW('X', 129, it). */
struct iomap_xfs_exchange_range {
  int32_t file1_fd;
  uint32_t pad;
  uint64_t file1_offset;
  uint64_t file2_offset;
  uint64_t length;
  uint64_t flags;
};
#define IOMAP_XFS_IOC_EXCHANGE_RANGE _IOW('X', 129, struct iomap_xfs_exchange_range)
#include <sys/uio.h>
#ifndef SEEK_DATA
#define SEEK_DATA 3
#endif
#ifndef SEEK_HOLE
#define SEEK_HOLE 4
#endif

#define MAX_SAFE ((uint64_t)9007199254740991ULL) /* Number.MAX_SAFE_INTEGER */
#define MAX_ALLOC ((uint64_t)1 << 31)            /* bounce buffers, not data sets */
#define FIEMAP_BATCH 256
#define FIEMAP_MAX_RESULTS (1u << 22)

/* ---- errors ------------------------------------------------------------------------------ */

static const char *errno_name(int err, char *buf, size_t buflen) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *n = strerrorname_np(err);
  if (n) return n;
#endif
  snprintf(buf, buflen, "E#%d", err);
  return buf;
}

/* Throw Error{code: errno name, errno, syscall}; always returns NULL for `return throw_...`. */
static napi_value throw_code(napi_env env, int err, const char *syscall_name, const char *detail) {
  char namebuf[32], msg[512];
  const char *name = errno_name(err, namebuf, sizeof namebuf);
  if (detail)
    snprintf(msg, sizeof msg, "%s: %s", syscall_name, detail);
  else
    snprintf(msg, sizeof msg, "%s: %s", syscall_name, strerror(err));
  napi_value code, message, error, num, sc;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok) return NULL;
  if (napi_create_error(env, code, message, &error) != napi_ok) return NULL;
  if (napi_create_int32(env, err, &num) == napi_ok) napi_set_named_property(env, error, "errno", num);
  if (napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &sc) == napi_ok)
    napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall_name) {
  return throw_code(env, err, syscall_name, NULL);
}

static napi_value throw_arg(napi_env env, const char *fn, const char *msg) {
  return throw_code(env, EINVAL, fn, msg);
}

/* ---- arguments --------------------------------------------------------------------------- */

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    char m[96];
    snprintf(m, sizeof m, "expected %zu arguments, got %zu", want, argc);
    throw_arg(env, fn, m);
    return 0;
  }
  return 1;
}

/* A non-negative integer (Number <= 2^53-1, or BigInt <= max) into *out. */
static int get_u64(napi_env env, napi_value v, uint64_t max, uint64_t *out, const char *fn, const char *what) {
  napi_valuetype t;
  char m[160];
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_number) {
    double d;
    napi_get_value_double(env, v, &d);
    if (!(d >= 0) || d != d || d > (double)MAX_SAFE || (double)(uint64_t)d != d) {
      snprintf(m, sizeof m, "%s must be a non-negative integer (got %g)", what, d);
      throw_arg(env, fn, m);
      return 0;
    }
    *out = (uint64_t)d;
  } else if (t == napi_bigint) {
    bool lossless = false;
    uint64_t u;
    int64_t s;
    napi_get_value_bigint_int64(env, v, &s, &lossless);
    if (lossless && s < 0) {
      snprintf(m, sizeof m, "%s must be non-negative", what);
      throw_arg(env, fn, m);
      return 0;
    }
    napi_get_value_bigint_uint64(env, v, &u, &lossless);
    if (!lossless) {
      snprintf(m, sizeof m, "%s does not fit in 64 bits", what);
      throw_arg(env, fn, m);
      return 0;
    }
    *out = u;
  } else {
    snprintf(m, sizeof m, "%s must be a number or bigint", what);
    throw_arg(env, fn, m);
    return 0;
  }
  if (*out > max) {
    snprintf(m, sizeof m, "%s is out of range (max %llu)", what, (unsigned long long)max);
    throw_arg(env, fn, m);
    return 0;
  }
  return 1;
}

static int get_fd(napi_env env, napi_value v, int *out, const char *fn, const char *what) {
  uint64_t u;
  if (!get_u64(env, v, INT_MAX, &u, fn, what)) return 0;
  *out = (int)u;
  return 1;
}

static napi_value make_u64(napi_env env, uint64_t v) {
  napi_value r;
  if (v <= MAX_SAFE)
    napi_create_double(env, (double)v, &r);
  else
    napi_create_bigint_uint64(env, v, &r);
  return r;
}

static napi_value make_i64(napi_env env, int64_t v) {
  napi_value r;
  if (v >= -(int64_t)MAX_SAFE && v <= (int64_t)MAX_SAFE)
    napi_create_double(env, (double)v, &r);
  else
    napi_create_bigint_int64(env, v, &r);
  return r;
}

static void set_u64(napi_env env, napi_value obj, const char *key, uint64_t v) {
  napi_set_named_property(env, obj, key, make_u64(env, v));
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* ---- alignedAlloc ------------------------------------------------------------------------ */

static void free_aligned(napi_env env, void *data, void *hint) {
  int64_t size = (int64_t)(uintptr_t)hint;
  int64_t ignored;
  free(data);
  napi_adjust_external_memory(env, -size, &ignored);
}

static napi_value AlignedAlloc(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint64_t size, align;
  if (!get_args(env, info, 2, argv, "alignedAlloc")) return NULL;
  if (!get_u64(env, argv[0], MAX_ALLOC, &size, "alignedAlloc", "size")) return NULL;
  if (!get_u64(env, argv[1], 1u << 20, &align, "alignedAlloc", "align")) return NULL;
  if (size == 0) return throw_arg(env, "alignedAlloc", "size must be at least 1");
  if (align < sizeof(void *) || (align & (align - 1)) != 0)
    return throw_arg(env, "alignedAlloc", "align must be a power of two >= pointer size");
  void *p = NULL;
  int rc = posix_memalign(&p, (size_t)align, (size_t)size);
  if (rc != 0) return throw_errno(env, rc, "posix_memalign");
  memset(p, 0, (size_t)size);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, (size_t)size, free_aligned, (void *)(uintptr_t)size, &ab) != napi_ok) {
    free(p);
    return throw_code(env, ENOMEM, "alignedAlloc", "napi_create_external_arraybuffer failed");
  }
  int64_t ignored;
  napi_adjust_external_memory(env, (int64_t)size, &ignored);
  return ab;
}

/* ---- block device ioctls ----------------------------------------------------------------- */

static napi_value BlkGetSize64(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, "blkGetSize64")) return NULL;
  if (!get_fd(env, argv[0], &fd, "blkGetSize64", "fd")) return NULL;
  uint64_t sz = 0;
  if (ioctl(fd, BLKGETSIZE64, &sz) < 0) return throw_errno(env, errno, "ioctl(BLKGETSIZE64)");
  return make_u64(env, sz);
}

static napi_value BlkSszGet(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, "blkSszGet")) return NULL;
  if (!get_fd(env, argv[0], &fd, "blkSszGet", "fd")) return NULL;
  int ssz = 0;
  if (ioctl(fd, BLKSSZGET, &ssz) < 0) return throw_errno(env, errno, "ioctl(BLKSSZGET)");
  napi_value r;
  napi_create_int32(env, ssz, &r);
  return r;
}

/* ---- fallocate / lseek ------------------------------------------------------------------- */

static napi_value Fallocate(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int fd;
  uint64_t mode, off, len;
  if (!get_args(env, info, 4, argv, "fallocate")) return NULL;
  if (!get_fd(env, argv[0], &fd, "fallocate", "fd")) return NULL;
  if (!get_u64(env, argv[1], INT_MAX, &mode, "fallocate", "mode")) return NULL;
  if (!get_u64(env, argv[2], INT64_MAX, &off, "fallocate", "offset")) return NULL;
  if (!get_u64(env, argv[3], INT64_MAX, &len, "fallocate", "length")) return NULL;
  if (fallocate(fd, (int)mode, (off_t)off, (off_t)len) < 0) return throw_errno(env, errno, "fallocate");
  return undefined(env);
}

static napi_value do_seek(napi_env env, napi_callback_info info, int whence, const char *fn) {
  napi_value argv[2];
  int fd;
  uint64_t off;
  if (!get_args(env, info, 2, argv, fn)) return NULL;
  if (!get_fd(env, argv[0], &fd, fn, "fd")) return NULL;
  if (!get_u64(env, argv[1], INT64_MAX, &off, fn, "offset")) return NULL;
  off_t r = lseek(fd, (off_t)off, whence);
  if (r < 0) return throw_errno(env, errno, whence == SEEK_DATA ? "lseek(SEEK_DATA)" : "lseek(SEEK_HOLE)");
  return make_u64(env, (uint64_t)r);
}

static napi_value SeekData(napi_env env, napi_callback_info info) { return do_seek(env, info, SEEK_DATA, "seekData"); }
static napi_value SeekHole(napi_env env, napi_callback_info info) { return do_seek(env, info, SEEK_HOLE, "seekHole"); }

/* ---- FIEMAP ------------------------------------------------------------------------------ */

static napi_value Fiemap(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int fd;
  uint64_t off, len, flags;
  if (!get_args(env, info, 4, argv, "fiemap")) return NULL;
  if (!get_fd(env, argv[0], &fd, "fiemap", "fd")) return NULL;
  if (!get_u64(env, argv[1], UINT64_MAX, &off, "fiemap", "offset")) return NULL;
  if (!get_u64(env, argv[2], UINT64_MAX, &len, "fiemap", "length")) return NULL;
  if (!get_u64(env, argv[3], UINT32_MAX, &flags, "fiemap", "flags")) return NULL;

  size_t bytes = sizeof(struct fiemap) + FIEMAP_BATCH * sizeof(struct fiemap_extent);
  struct fiemap *fm = malloc(bytes);
  if (!fm) return throw_errno(env, ENOMEM, "fiemap");
  uint64_t end = (len > UINT64_MAX - off) ? UINT64_MAX : off + len;
  uint64_t start = off;
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t n = 0;
  while (start < end) {
    memset(fm, 0, bytes);
    fm->fm_start = start;
    fm->fm_length = end - start;
    fm->fm_flags = (uint32_t)flags;
    fm->fm_extent_count = FIEMAP_BATCH;
    if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
      int err = errno;
      free(fm);
      return throw_errno(env, err, "ioctl(FS_IOC_FIEMAP)");
    }
    if (fm->fm_mapped_extents == 0) break;
    int last = 0;
    for (uint32_t i = 0; i < fm->fm_mapped_extents; i++) {
      struct fiemap_extent *e = &fm->fm_extents[i];
      napi_value obj, fl;
      napi_create_object(env, &obj);
      set_u64(env, obj, "logical", e->fe_logical);
      set_u64(env, obj, "physical", e->fe_physical);
      set_u64(env, obj, "length", e->fe_length);
      napi_create_uint32(env, e->fe_flags, &fl);
      napi_set_named_property(env, obj, "flags", fl);
      napi_set_element(env, arr, n++, obj);
      if (e->fe_flags & FIEMAP_EXTENT_LAST) last = 1;
    }
    struct fiemap_extent *tail = &fm->fm_extents[fm->fm_mapped_extents - 1];
    uint64_t next = tail->fe_logical + tail->fe_length;
    if (last || next <= start || n >= FIEMAP_MAX_RESULTS || fm->fm_mapped_extents < FIEMAP_BATCH) break;
    start = next;
  }
  free(fm);
  return arr;
}

/* ---- reflink / dedupe / copy_file_range -------------------------------------------------- */

static napi_value FicloneRange(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int src, dst;
  uint64_t soff, len, doff;
  if (!get_args(env, info, 5, argv, "ficloneRange")) return NULL;
  if (!get_fd(env, argv[0], &src, "ficloneRange", "srcFd")) return NULL;
  if (!get_u64(env, argv[1], INT64_MAX, &soff, "ficloneRange", "srcOff")) return NULL;
  if (!get_u64(env, argv[2], INT64_MAX, &len, "ficloneRange", "length")) return NULL;
  if (!get_fd(env, argv[3], &dst, "ficloneRange", "dstFd")) return NULL;
  if (!get_u64(env, argv[4], INT64_MAX, &doff, "ficloneRange", "dstOff")) return NULL;
  struct file_clone_range r;
  memset(&r, 0, sizeof r);
  r.src_fd = src;
  r.src_offset = soff;
  r.src_length = len;
  r.dest_offset = doff;
  if (ioctl(dst, FICLONERANGE, &r) < 0) return throw_errno(env, errno, "ioctl(FICLONERANGE)");
  return undefined(env);
}

static napi_value Fideduperange(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int src, dst;
  uint64_t soff, len, doff;
  if (!get_args(env, info, 5, argv, "fideduperange")) return NULL;
  if (!get_fd(env, argv[0], &src, "fideduperange", "srcFd")) return NULL;
  if (!get_u64(env, argv[1], INT64_MAX, &soff, "fideduperange", "srcOff")) return NULL;
  if (!get_u64(env, argv[2], INT64_MAX, &len, "fideduperange", "length")) return NULL;
  if (!get_fd(env, argv[3], &dst, "fideduperange", "dstFd")) return NULL;
  if (!get_u64(env, argv[4], INT64_MAX, &doff, "fideduperange", "dstOff")) return NULL;
  size_t bytes = sizeof(struct file_dedupe_range) + sizeof(struct file_dedupe_range_info);
  struct file_dedupe_range *r = calloc(1, bytes);
  if (!r) return throw_errno(env, ENOMEM, "fideduperange");
  r->src_offset = soff;
  r->src_length = len;
  r->dest_count = 1;
  r->info[0].dest_fd = dst;
  r->info[0].dest_offset = doff;
  if (ioctl(src, FIDEDUPERANGE, r) < 0) {
    int err = errno;
    free(r);
    return throw_errno(env, err, "ioctl(FIDEDUPERANGE)");
  }
  napi_value obj, st;
  napi_create_object(env, &obj);
  set_u64(env, obj, "bytesDeduped", r->info[0].bytes_deduped);
  napi_create_int32(env, r->info[0].status, &st);
  napi_set_named_property(env, obj, "status", st);
  free(r);
  return obj;
}

static napi_value CopyFileRange(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int in, out;
  uint64_t oin, oout, len;
  if (!get_args(env, info, 5, argv, "copyFileRange")) return NULL;
  if (!get_fd(env, argv[0], &in, "copyFileRange", "fdIn")) return NULL;
  if (!get_u64(env, argv[1], INT64_MAX, &oin, "copyFileRange", "offIn")) return NULL;
  if (!get_fd(env, argv[2], &out, "copyFileRange", "fdOut")) return NULL;
  if (!get_u64(env, argv[3], INT64_MAX, &oout, "copyFileRange", "offOut")) return NULL;
  if (!get_u64(env, argv[4], SSIZE_MAX, &len, "copyFileRange", "length")) return NULL;
  loff_t a = (loff_t)oin, b = (loff_t)oout;
  ssize_t r = copy_file_range(in, &a, out, &b, (size_t)len, 0);
  if (r < 0) return throw_errno(env, errno, "copy_file_range");
  return make_i64(env, (int64_t)r);
}

/* ---- posix_fadvise ----------------------------------------------------------------------- */

/* posix_fadvise(2) returns the error number instead of setting errno. */
static napi_value Fadvise(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int fd;
  uint64_t off, len, advice;
  if (!get_args(env, info, 4, argv, "fadvise")) return NULL;
  if (!get_fd(env, argv[0], &fd, "fadvise", "fd")) return NULL;
  if (!get_u64(env, argv[1], INT64_MAX, &off, "fadvise", "offset")) return NULL;
  if (!get_u64(env, argv[2], INT64_MAX, &len, "fadvise", "length")) return NULL;
  if (!get_u64(env, argv[3], INT_MAX, &advice, "fadvise", "advice")) return NULL;
  int err = posix_fadvise(fd, (off_t)off, (off_t)len, (int)advice);
  if (err != 0) return throw_errno(env, err, "posix_fadvise");
  return undefined(env);
}

/* ---- statx(STATX_DIOALIGN) --------------------------------------------------------------- */

/* The path argument of a statx call into `path` (PATH_MAX bytes); 0 after throwing. */
static int get_path(napi_env env, napi_value v, char *path, const char *fn) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) {
    throw_arg(env, fn, "path must be a string");
    return 0;
  }
  size_t n = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &n);
  if (n == 0) {
    throw_code(env, ENOENT, fn, "path is empty");
    return 0;
  }
  if (n >= PATH_MAX) {
    throw_code(env, ENAMETOOLONG, fn, "path is too long");
    return 0;
  }
  napi_get_value_string_utf8(env, v, path, PATH_MAX, &n);
  if (strlen(path) != n) {
    throw_arg(env, fn, "path contains a NUL byte");
    return 0;
  }
  return 1;
}

static napi_value StatxDioAlign(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_MAX];
  if (!get_args(env, info, 1, argv, "statxDioAlign")) return NULL;
  if (!get_path(env, argv[0], path, "statxDioAlign")) return NULL;
  struct statx stx;
  memset(&stx, 0, sizeof stx);
  napi_value nul;
  napi_get_null(env, &nul);
  if (syscall(SYS_statx, AT_FDCWD, path, 0, STATX_DIOALIGN, &stx) < 0) {
    int err = errno;
    if (err == ENOSYS) return nul;
    return throw_errno(env, err, "statx");
  }
  if (!(stx.stx_mask & STATX_DIOALIGN) || stx.stx_dio_mem_align == 0) return nul;
  napi_value obj, a, b;
  napi_create_object(env, &obj);
  napi_create_uint32(env, stx.stx_dio_mem_align, &a);
  napi_create_uint32(env, stx.stx_dio_offset_align, &b);
  napi_set_named_property(env, obj, "memAlign", a);
  napi_set_named_property(env, obj, "offsetAlign", b);
  return obj;
}

/* ---- statx(STATX_WRITE_ATOMIC) ----------------------------------------------------------- */

static napi_value StatxAtomic(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_MAX];
  if (!get_args(env, info, 1, argv, "statxAtomic")) return NULL;
  if (!get_path(env, argv[0], path, "statxAtomic")) return NULL;
  /* The raw 256-byte struct: the libc headers may predate the atomic write fields. */
  uint8_t raw[256];
  memset(raw, 0, sizeof raw);
  napi_value nul;
  napi_get_null(env, &nul);
  if (syscall(SYS_statx, AT_FDCWD, path, 0, STATX_WRITE_ATOMIC, raw) < 0) {
    int err = errno;
    if (err == ENOSYS) return nul;
    return throw_errno(env, err, "statx");
  }
  uint32_t mask, umin, umax, segs;
  memcpy(&mask, raw, 4);
  memcpy(&umin, raw + STATX_OFF_AWU_MIN, 4);
  memcpy(&umax, raw + STATX_OFF_AWU_MAX, 4);
  memcpy(&segs, raw + STATX_OFF_AWU_SEGMENTS, 4);
  if (!(mask & STATX_WRITE_ATOMIC) || umin == 0) return nul;
  napi_value obj, a, b, c;
  napi_create_object(env, &obj);
  napi_create_uint32(env, umin, &a);
  napi_create_uint32(env, umax, &b);
  napi_create_uint32(env, segs, &c);
  napi_set_named_property(env, obj, "unitMin", a);
  napi_set_named_property(env, obj, "unitMax", b);
  napi_set_named_property(env, obj, "segmentsMax", c);
  return obj;
}

/* ---- preadv2 / pwritev2 with RWF_* flags ------------------------------------------------- */

static int get_bytes(napi_env env, napi_value v, void **data, size_t *len, const char *fn) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) {
    throw_arg(env, fn, "buffer must be a Uint8Array");
    return 0;
  }
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok || type != napi_uint8_array) {
    throw_arg(env, fn, "buffer must be a Uint8Array");
    return 0;
  }
  return 1;
}

static napi_value do_rw2(napi_env env, napi_callback_info info, int write, const char *fn) {
  napi_value argv[4];
  int fd;
  uint64_t off, flags;
  void *data;
  size_t len;
  if (!get_args(env, info, 4, argv, fn)) return NULL;
  if (!get_fd(env, argv[0], &fd, fn, "fd")) return NULL;
  if (!get_bytes(env, argv[1], &data, &len, fn)) return NULL;
  if (!get_u64(env, argv[2], INT64_MAX, &off, fn, "offset")) return NULL;
  if (!get_u64(env, argv[3], INT_MAX, &flags, fn, "flags")) return NULL;
  struct iovec iov = { .iov_base = data, .iov_len = len };
  ssize_t r = write ? pwritev2(fd, &iov, 1, (off_t)off, (int)flags) : preadv2(fd, &iov, 1, (off_t)off, (int)flags);
  if (r < 0) return throw_errno(env, errno, fn);
  return make_i64(env, (int64_t)r);
}

static napi_value Preadv2(napi_env env, napi_callback_info info) {
  return do_rw2(env, info, 0, "preadv2");
}

static napi_value Pwritev2(napi_env env, napi_callback_info info) {
  return do_rw2(env, info, 1, "pwritev2");
}

/* ---- XFS_IOC_EXCHANGE_RANGE -------------------------------------------------------------- */

static napi_value ExchangeRange(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int fd;
  uint64_t off1, len, off2, flags;
  if (!get_args(env, info, 5, argv, "exchangeRange")) return NULL;
  if (!get_fd(env, argv[0], &fd, "exchangeRange", "fd")) return NULL;
  if (!get_u64(env, argv[1], INT64_MAX, &off1, "exchangeRange", "offset1")) return NULL;
  if (!get_u64(env, argv[2], INT64_MAX, &len, "exchangeRange", "length")) return NULL;
  if (!get_u64(env, argv[3], INT64_MAX, &off2, "exchangeRange", "offset2")) return NULL;
  if (!get_u64(env, argv[4], UINT32_MAX, &flags, "exchangeRange", "flags")) return NULL;
  struct iomap_xfs_exchange_range x;
  memset(&x, 0, sizeof x);
  x.file1_fd = fd;
  x.file1_offset = off1;
  x.file2_offset = off2;
  x.length = len;
  x.flags = flags;
  if (ioctl(fd, IOMAP_XFS_IOC_EXCHANGE_RANGE, &x) < 0) return throw_errno(env, errno, "ioctl(XFS_IOC_EXCHANGE_RANGE)");
  return undefined(env);
}

/* ---- module ------------------------------------------------------------------------------ */

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"alignedAlloc", NULL, AlignedAlloc, NULL, NULL, NULL, napi_enumerable, NULL},
    {"blkGetSize64", NULL, BlkGetSize64, NULL, NULL, NULL, napi_enumerable, NULL},
    {"blkSszGet", NULL, BlkSszGet, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fallocate", NULL, Fallocate, NULL, NULL, NULL, napi_enumerable, NULL},
    {"seekData", NULL, SeekData, NULL, NULL, NULL, napi_enumerable, NULL},
    {"seekHole", NULL, SeekHole, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fiemap", NULL, Fiemap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ficloneRange", NULL, FicloneRange, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fideduperange", NULL, Fideduperange, NULL, NULL, NULL, napi_enumerable, NULL},
    {"copyFileRange", NULL, CopyFileRange, NULL, NULL, NULL, napi_enumerable, NULL},
    {"statxDioAlign", NULL, StatxDioAlign, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fadvise", NULL, Fadvise, NULL, NULL, NULL, napi_enumerable, NULL},
    {"statxAtomic", NULL, StatxAtomic, NULL, NULL, NULL, napi_enumerable, NULL},
    {"preadv2", NULL, Preadv2, NULL, NULL, NULL, napi_enumerable, NULL},
    {"pwritev2", NULL, Pwritev2, NULL, NULL, NULL, napi_enumerable, NULL},
    {"exchangeRange", NULL, ExchangeRange, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
