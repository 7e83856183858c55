import type { FieldPosition } from '../core/incident.ts';

/**
 * What a field upload is, decided by its bytes (never by the type the phone claims), and the photo formats' metadata
 * stripped by walking their structure: a phone's photo carries where it was taken, the phone's make and serial, and
 * the time, none of which may be served with the evidence. Pure functions over buffers; videos go through ffmpeg
 * (cameras/evidence/ffmpeg.ts' stripVideoMetadata).
 */

export const photoTypes = ['image/jpeg', 'image/png', 'image/webp'] as const;
export const videoTypes = ['video/mp4', 'video/webm', 'video/quicktime'] as const;
export type PhotoType = (typeof photoTypes)[number];
export type VideoType = (typeof videoTypes)[number];
export type UploadType = PhotoType | VideoType;
export const uploadTypes: readonly UploadType[] = [...photoTypes, ...videoTypes];

export function isPhotoType(type: UploadType): type is PhotoType {
  return (photoTypes as readonly string[]).includes(type);
}

/** The file name extension the media store keeps each type under. */
export const extensions: Record<UploadType, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'video/mp4': 'mp4',
  'video/webm': 'webm',
  'video/quicktime': 'mov',
};

/** A file whose structure breaks its format: refused (and counted) rather than served half-understood. */
export class MalformedMediaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedMediaError';
  }
}

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const ebml = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);

/**
 * The type of a file by its first bytes (at least 12 of them): JPEG's SOI, PNG's signature, RIFF/WEBP, EBML (WebM),
 * an ISO BMFF `ftyp` box (QuickTime when its major brand is `qt  `, MP4 otherwise). Undefined: none we accept.
 */
export function sniffType(head: Uint8Array): UploadType | undefined {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (bytes.length < 12) return undefined;
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.subarray(0, 8).equals(pngSignature)) return 'image/png';
  if (bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP')
    return 'image/webp';
  if (bytes.subarray(0, 4).equals(ebml)) return 'video/webm';
  if (bytes.toString('latin1', 4, 8) === 'ftyp') {
    return bytes.toString('latin1', 8, 12) === 'qt  ' ? 'video/quicktime' : 'video/mp4';
  }
  return undefined;
}

export interface StrippedPhoto {
  readonly bytes: Buffer;
  /** The GPS position the photo's EXIF held (JPEG only), read before it was dropped. */
  readonly position?: FieldPosition;
}

/** Strips a photo of the given (sniffed) type. Throws MalformedMediaError when its structure does not hold. */
export function stripPhoto(type: PhotoType, bytes: Buffer): StrippedPhoto {
  return photoStrippers[type](bytes);
}

const photoStrippers: Record<PhotoType, (bytes: Buffer) => StrippedPhoto> = {
  'image/jpeg': stripJpeg,
  'image/png': (bytes) => ({ bytes: stripPng(bytes) }),
  'image/webp': (bytes) => ({ bytes: stripWebp(bytes) }),
};

// JPEG (ITU T.81 B.1.1): markers FF xx; these stand alone, without a length.
const standaloneMarkers = new Set([0x01, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8]);
const sos = 0xda;
const eoi = 0xd9;
const com = 0xfe;
const app2 = 0xe2;
const iccSignature = Buffer.from('ICC_PROFILE\0', 'latin1');
const exifSignature = Buffer.from('Exif\0\0', 'latin1');

/**
 * Copies a JPEG segment by segment, leaving out APP1–APP15 (EXIF, XMP, MPF thumbnails and depth maps, Photoshop
 * IRB, maker data) and COM, except APP2 segments holding an ICC profile: a colour profile (Display P3 on most
 * phones) says how to show the colours of the evidence and nothing of who took it or where. APP0 (JFIF) stays. The
 * GPS position of the EXIF is read on the way. Each scan's entropy-coded data is copied as it is; nothing after EOI is.
 */
export function stripJpeg(bytes: Buffer): StrippedPhoto {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new MalformedMediaError('not a JPEG');
  const kept: Buffer[] = [bytes.subarray(0, 2)];
  let position: FieldPosition | undefined;
  let offset = 2;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) throw new MalformedMediaError(`JPEG: no marker at byte ${offset}`);
    // Fill bytes (FF FF …) may pad between segments.
    let markerAt = offset + 1;
    while (bytes[markerAt] === 0xff) markerAt += 1;
    const marker = bytes[markerAt];
    if (marker === undefined) throw new MalformedMediaError('JPEG: ends inside a marker');
    if (marker === eoi) {
      // Whatever follows EOI is left out: phones append second images there (MPF thumbnails, motion photos), EXIF
      // and GPS included.
      kept.push(Buffer.from([0xff, eoi]));
      return { bytes: Buffer.concat(kept), ...(position === undefined ? {} : { position }) };
    }
    if (standaloneMarkers.has(marker)) {
      kept.push(Buffer.from([0xff, marker]));
      offset = markerAt + 1;
      continue;
    }
    if (markerAt + 3 > bytes.length) throw new MalformedMediaError('JPEG: ends inside a segment header');
    const length = bytes.readUInt16BE(markerAt + 1);
    const end = markerAt + 1 + length;
    if (length < 2 || end > bytes.length) throw new MalformedMediaError('JPEG: a segment runs past the file');
    const segment = bytes.subarray(markerAt - 1, end);
    const payload = bytes.subarray(markerAt + 3, end);
    if (marker === sos) {
      // The scan's header, then its entropy-coded data up to the next marker (a 0xFF not followed by a stuffed 0x00
      // or a restart marker): further scans of a progressive JPEG and their tables are walked like the rest.
      const dataEnd = entropyEnd(bytes, end);
      kept.push(bytes.subarray(markerAt - 1, dataEnd));
      offset = dataEnd;
      continue;
    }
    const isApp = marker >= 0xe1 && marker <= 0xef;
    if (marker === 0xe1 && position === undefined && payload.subarray(0, 6).equals(exifSignature)) {
      position = exifGpsPosition(payload.subarray(6));
    }
    const keep =
      (!isApp && marker !== com) || (marker === app2 && payload.subarray(0, 12).equals(iccSignature));
    if (keep) kept.push(segment);
    offset = end;
  }
  throw new MalformedMediaError('JPEG: no EOI');
}

/** Where a scan's entropy-coded data ends: at the first marker that is neither a stuffed 0xFF nor a restart. */
function entropyEnd(bytes: Buffer, from: number): number {
  for (let at = bytes.indexOf(0xff, from); at !== -1; at = bytes.indexOf(0xff, at + 1)) {
    const next = bytes[at + 1];
    if (next === undefined) break;
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) continue;
    return at;
  }
  throw new MalformedMediaError('JPEG: a scan runs past the file');
}

/**
 * The GPS position of an EXIF block (its TIFF structure, after `Exif\0\0`): IFD0's GPS IFD pointer (tag 0x8825),
 * then GPSLatitudeRef/GPSLatitude/GPSLongitudeRef/GPSLongitude (tags 1–4, degrees, minutes, seconds as RATIONALs) and
 * GPSHPositioningError (tag 31) for the accuracy. Undefined when there is none or it does not read.
 */
export function exifGpsPosition(tiff: Buffer): FieldPosition | undefined {
  try {
    const order = tiff.toString('latin1', 0, 2);
    if (order !== 'II' && order !== 'MM') return undefined;
    const little = order === 'II';
    const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
    const u32 = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
    const entries = (ifd: number) => {
      const count = u16(ifd);
      return Array.from({ length: count }, (_, index) => {
        const at = ifd + 2 + index * 12;
        return { tag: u16(at), type: u16(at + 2), count: u32(at + 4), valueAt: at + 8 };
      });
    };
    const gpsPointer = entries(u32(4)).find((entry) => entry.tag === 0x8825);
    if (gpsPointer === undefined) return undefined;
    const gps = new Map(entries(u32(gpsPointer.valueAt)).map((entry) => [entry.tag, entry]));
    const rationals = (tag: number): number[] | undefined => {
      const entry = gps.get(tag);
      if (entry === undefined || entry.type !== 5) return undefined;
      const at = u32(entry.valueAt);
      return Array.from({ length: entry.count }, (_, index) => {
        const denominator = u32(at + index * 8 + 4);
        return denominator === 0 ? Number.NaN : u32(at + index * 8) / denominator;
      });
    };
    const reference = (tag: number) => {
      const entry = gps.get(tag);
      return entry === undefined ? undefined : String.fromCharCode(tiff[entry.valueAt] ?? 0);
    };
    const degrees = (parts: number[] | undefined, negative: boolean) => {
      if (parts === undefined || parts.length < 3) return undefined;
      const [d = 0, m = 0, s = 0] = parts;
      const value = d + m / 60 + s / 3600;
      return Number.isFinite(value) ? (negative ? -value : value) : undefined;
    };
    const lat = degrees(rationals(2), reference(1) === 'S');
    const lon = degrees(rationals(4), reference(3) === 'W');
    if (lat === undefined || lon === undefined || Math.abs(lat) > 90 || Math.abs(lon) > 180) return undefined;
    const error = rationals(31)?.[0];
    return {
      lon: Math.round(lon * 1e7) / 1e7,
      lat: Math.round(lat * 1e7) / 1e7,
      ...(error !== undefined && Number.isFinite(error) ? { accuracyM: error } : {}),
    };
  } catch {
    // A reference past the end of the block: no position, and the block is dropped anyway.
    return undefined;
  }
}

/** Text, compressed text, international text, EXIF and the modification time: what a PNG may say beyond pixels. */
const pngDropped = new Set(['tEXt', 'zTXt', 'iTXt', 'eXIf', 'tIME']);

/** Copies a PNG chunk by chunk (PNG 3rd ed. §5.3) without its text, EXIF and time chunks, up to IEND. */
export function stripPng(bytes: Buffer): Buffer {
  if (!bytes.subarray(0, 8).equals(pngSignature)) throw new MalformedMediaError('not a PNG');
  const kept: Buffer[] = [bytes.subarray(0, 8)];
  let offset = 8;
  while (offset < bytes.length) {
    if (offset + 12 > bytes.length) throw new MalformedMediaError('PNG: ends inside a chunk header');
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (end > bytes.length) throw new MalformedMediaError(`PNG: chunk ${type} runs past the file`);
    if (!pngDropped.has(type)) kept.push(bytes.subarray(offset, end));
    offset = end;
    if (type === 'IEND') return Buffer.concat(kept);
  }
  throw new MalformedMediaError('PNG: no IEND');
}

/** VP8X's flags (WebP container §"Extended file format"): which optional chunks the file holds. */
const vp8xExifFlag = 0x08;
const vp8xXmpFlag = 0x04;
const webpDropped = new Set(['EXIF', 'XMP ']);

/**
 * Copies a WebP's RIFF chunks without EXIF and XMP, clearing their flags in VP8X (a decoder may otherwise look for
 * them) and rewriting the RIFF size. Chunks are padded to an even length.
 */
export function stripWebp(bytes: Buffer): Buffer {
  if (
    bytes.length < 12 ||
    bytes.toString('latin1', 0, 4) !== 'RIFF' ||
    bytes.toString('latin1', 8, 12) !== 'WEBP'
  )
    throw new MalformedMediaError('not a WebP');
  const riffEnd = 8 + bytes.readUInt32LE(4);
  if (riffEnd > bytes.length) throw new MalformedMediaError('WebP: the RIFF size runs past the file');
  const kept: Buffer[] = [];
  let offset = 12;
  while (offset < riffEnd) {
    if (offset + 8 > riffEnd) throw new MalformedMediaError('WebP: ends inside a chunk header');
    const fourCc = bytes.toString('latin1', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    const end = offset + 8 + size + (size % 2);
    if (offset + 8 + size > riffEnd)
      throw new MalformedMediaError(`WebP: chunk ${fourCc} runs past the file`);
    const chunk = Buffer.from(bytes.subarray(offset, Math.min(end, riffEnd)));
    if (fourCc === 'VP8X') {
      if (size < 10) throw new MalformedMediaError('WebP: VP8X too short');
      chunk[8] = (chunk[8] ?? 0) & ~(vp8xExifFlag | vp8xXmpFlag);
    }
    if (!webpDropped.has(fourCc)) kept.push(chunk);
    offset = end;
  }
  const body = Buffer.concat(kept);
  const header = Buffer.alloc(12);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(body.length + 4, 4);
  header.write('WEBP', 8, 'latin1');
  return Buffer.concat([header, body]);
}
