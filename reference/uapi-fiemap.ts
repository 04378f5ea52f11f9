/**
 * FIEMAP's user-space ABI (include/uapi/linux/fiemap.h): request and extent flags. One copy for
 * the model (reference/iomap/fiemap.ts), the native addon, the fsx runner and the suites' checks.
 */
export const FIEMAP_FLAG_SYNC = 0x00000001;
export const FIEMAP_FLAG_XATTR = 0x00000002;
export const FIEMAP_FLAG_CACHE = 0x00000004;
export const FIEMAP_FLAGS_COMPAT = FIEMAP_FLAG_SYNC | FIEMAP_FLAG_XATTR;

export const FIEMAP_EXTENT_LAST = 0x00000001;
export const FIEMAP_EXTENT_UNKNOWN = 0x00000002;
export const FIEMAP_EXTENT_DELALLOC = 0x00000004;
export const FIEMAP_EXTENT_ENCODED = 0x00000008;
export const FIEMAP_EXTENT_DATA_ENCRYPTED = 0x00000080;
export const FIEMAP_EXTENT_NOT_ALIGNED = 0x00000100;
export const FIEMAP_EXTENT_DATA_INLINE = 0x00000200;
export const FIEMAP_EXTENT_DATA_TAIL = 0x00000400;
export const FIEMAP_EXTENT_UNWRITTEN = 0x00000800;
export const FIEMAP_EXTENT_MERGED = 0x00001000;
export const FIEMAP_EXTENT_SHARED = 0x00002000;
