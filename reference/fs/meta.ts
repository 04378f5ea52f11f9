/**
 * refs on-disk metadata: a superblock in block 0 and two metadata slots written alternately,
 * each with a generation number and a CRC32. A commit writes the slot not holding the newest
 * valid copy and makes it durable, so a crash during a commit leaves the previous one intact:
 * mount picks the valid slot with the highest generation (shadow-paging, all-or-nothing).
 */
import * as zlib from 'zlib';
import type { BlockDevice } from '../device/types';
import { FsError, EINVAL, ENOSPC, EUCLEAN } from '../errno';

export const REFS_MAGIC = 'refs-v1';
const SLOT_MAGIC = 0x52534c54; // "RSLT"
const SLOT_HEADER = 16;

export interface Superblock {
  magic: string;
  blockSize: number;
  deviceBytes: number;
  /** Blocks per metadata slot. */
  slotBlocks: number;
  /** First data block. */
  dataStart: number;
  /** Number of data blocks. */
  dataBlocks: number;
  /** Largest inline file (0: inline data disabled). */
  inlineMax: number;
}

export interface InodeRecord {
  ino: number;
  size: number;
  /** [lblk, len, pblk, 0 = written | 1 = unwritten] */
  extents: Array<[number, number, number, number]>;
  /** Inline bytes (base64) when the file is inline. */
  inline?: string;
  /** The persistent-preallocation flag (XFS_DIFLAG_PREALLOC, an on-disk inode flag): set, or absent. */
  prealloc?: true;
  /** The reflink inode flag (XFS_DIFLAG2_REFLINK, on disk with the inode): set, or absent. */
  reflink?: true;
}

export interface MetaImage {
  generation: number;
  nextIno: number;
  names: Record<string, number>;
  inodes: InodeRecord[];
}

function crc32(buf: Uint8Array): number {
  return (zlib as unknown as { crc32(b: Uint8Array): number }).crc32(buf) >>> 0;
}

function padTo(buf: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(buf);
  return out;
}

export function writeSuperblock(dev: BlockDevice, sb: Superblock): void {
  const body = Buffer.from(JSON.stringify(sb));
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32LE(body.length, 0);
  hdr.writeUInt32LE(crc32(body), 4);
  const raw = Buffer.concat([hdr, body]);
  if (raw.length > sb.blockSize) throw new FsError(EINVAL, 'superblock does not fit in one block');
  dev.write(0, padTo(raw, sb.blockSize), { fua: true });
}

export function readSuperblock(dev: BlockDevice): Superblock {
  const first = new Uint8Array(dev.sectorSize);
  dev.read(0, first);
  const len = Buffer.from(first.buffer, first.byteOffset).readUInt32LE(0);
  if (len === 0 || len > 65536 - 8) throw new FsError(EINVAL, `no refs superblock on ${dev.name}`);
  const total = Math.ceil((len + 8) / dev.sectorSize) * dev.sectorSize;
  if (total > dev.size) throw new FsError(EINVAL, `no refs superblock on ${dev.name}`);
  const buf = new Uint8Array(total);
  dev.read(0, buf);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const body = b.subarray(8, 8 + len);
  if (crc32(body) !== b.readUInt32LE(4)) throw new FsError(EUCLEAN, `refs superblock checksum mismatch on ${dev.name}`);
  let sb: Superblock;
  if (lastSuperblock !== null && lastSuperblock.body.equals(body)) {
    sb = { ...lastSuperblock.sb };
  } else {
    try {
      sb = JSON.parse(body.toString('utf8')) as Superblock;
    } catch {
      throw new FsError(EUCLEAN, `refs superblock unreadable on ${dev.name}`);
    }
    lastSuperblock = { body: Buffer.from(body), sb: { ...sb } };
  }
  if (sb.magic !== REFS_MAGIC) throw new FsError(EINVAL, `not a refs filesystem on ${dev.name}`);
  return sb;
}

/**
 * The last superblock parsed and its bytes: a run mounts the same superblock at every remount and
 * power cut, so equal bytes are answered with a copy of it instead of another JSON parse.
 */
let lastSuperblock: { body: Buffer; sb: Superblock } | null = null;

function slotOffset(sb: Superblock, slot: number): number {
  return (1 + slot * sb.slotBlocks) * sb.blockSize;
}

export function writeSlot(dev: BlockDevice, sb: Superblock, slot: number, img: MetaImage, fua = true): void {
  // Encoded once, straight into the zero-padded blocks the device gets (this runs at every
  // commit: a JSON string, its UTF-8 copy, header + body and the padded copy were four).
  const json = JSON.stringify(img);
  const len = Buffer.byteLength(json);
  const cap = sb.slotBlocks * sb.blockSize;
  if (len + SLOT_HEADER > cap) {
    throw new FsError(ENOSPC, `refs metadata (${len} bytes) exceeds its ${cap}-byte slot`);
  }
  const raw = Buffer.alloc(Math.ceil((SLOT_HEADER + len) / sb.blockSize) * sb.blockSize);
  raw.write(json, SLOT_HEADER);
  raw.writeUInt32LE(SLOT_MAGIC, 0);
  raw.writeUInt32LE(img.generation >>> 0, 4);
  raw.writeUInt32LE(len, 8);
  raw.writeUInt32LE(crc32(raw.subarray(SLOT_HEADER, SLOT_HEADER + len)), 12);
  dev.write(slotOffset(sb, slot), raw, { fua });
}

/** A slot whose header and checksum hold: the generation its header names and the body, unparsed. */
interface SlotBody {
  generation: number;
  body: Buffer;
}

/** Read a slot and check its header and checksum; null when it holds no valid image. */
function readSlotBody(dev: BlockDevice, sb: Superblock, slot: number): SlotBody | null {
  const hdrBuf = new Uint8Array(sb.blockSize);
  dev.read(slotOffset(sb, slot), hdrBuf);
  const hdr = Buffer.from(hdrBuf.buffer, hdrBuf.byteOffset, hdrBuf.length);
  if (hdr.readUInt32LE(0) !== SLOT_MAGIC) return null;
  const len = hdr.readUInt32LE(8);
  if (len + SLOT_HEADER > sb.slotBlocks * sb.blockSize) return null;
  const n = Math.ceil((len + SLOT_HEADER) / sb.blockSize) * sb.blockSize;
  // Read again, whole (the device sees the requests it always saw: fault rules count them).
  const buf = new Uint8Array(n);
  dev.read(slotOffset(sb, slot), buf);
  const body = Buffer.from(buf.buffer, buf.byteOffset + SLOT_HEADER, len);
  if (crc32(body) !== hdr.readUInt32LE(12)) return null;
  return { generation: hdr.readUInt32LE(4), body };
}

function parseSlot(s: SlotBody): MetaImage | null {
  try {
    return JSON.parse(s.body.toString('utf8')) as MetaImage;
  } catch {
    return null;
  }
}

/** Read a slot; null when it holds no valid image. */
export function readSlot(dev: BlockDevice, sb: Superblock, slot: number): MetaImage | null {
  const s = readSlotBody(dev, sb, slot);
  return s === null ? null : parseSlot(s);
}

/**
 * The image mount uses: of the two slots' valid images the one with the higher generation (slot
 * 0 on a tie), or null when neither holds one. A header names the generation its body holds
 * (writeSlot writes both; the checksum ties them), so only the chosen body is parsed — the
 * other only if the chosen one does not parse. Every mount and power cut reads both slots.
 */
export function readNewestSlot(dev: BlockDevice, sb: Superblock): { img: MetaImage; slot: number } | null {
  const a = readSlotBody(dev, sb, 0);
  const b = readSlotBody(dev, sb, 1);
  const order = a !== null && (b === null || a.generation >= b.generation) ? [0, 1] : [1, 0];
  for (const slot of order) {
    const s = slot === 0 ? a : b;
    const img = s === null ? null : parseSlot(s);
    if (img !== null) return { img, slot };
  }
  return null;
}
