import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Real photo and video files for the field-upload tests, made by ffmpeg, with the metadata a phone writes added by
 * hand: an EXIF APP1 with a GPS IFD in a JPEG, a tEXt and an eXIf chunk in a PNG, EXIF and XMP chunks in a WebP.
 */

/** ffmpeg's output for these arguments (a lavfi test source), as bytes. */
export function ffmpegMake(
  extension: string,
  outputArgs: readonly string[],
  source = 'color=red:s=32x32',
): Buffer {
  const directory = mkdtempSync(path.join(tmpdir(), 'gridhub-field-'));
  const file = path.join(directory, `out.${extension}`);
  try {
    execFileSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      source,
      ...outputArgs,
      '-y',
      file,
    ]);
    return readFileSync(file);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** What ffprobe says of a file's format and streams (tags included), as JSON text. */
export function ffprobe(bytes: Buffer, extension: string): string {
  const directory = mkdtempSync(path.join(tmpdir(), 'gridhub-probe-'));
  const file = path.join(directory, `in.${extension}`);
  try {
    writeFileSync(file, bytes);
    return execFileSync('ffprobe', [
      '-v',
      'error',
      '-show_format',
      '-show_streams',
      '-of',
      'json',
      file,
    ]).toString();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** A TIFF (little-endian) with IFD0 pointing at a GPS IFD: latitude and longitude in degrees, minutes, seconds. */
export function exifWithGps(lat: number, lon: number): Buffer {
  const dms = (value: number): [number, number][] => {
    const absolute = Math.abs(value);
    const d = Math.floor(absolute);
    const m = Math.floor((absolute - d) * 60);
    const s = Math.round(((absolute - d) * 60 - m) * 60 * 10_000);
    return [
      [d, 1],
      [m, 1],
      [s, 10_000],
    ];
  };
  const tiff = Buffer.alloc(8 + 18 + 2 + 4 * 12 + 4 + 48);
  tiff.write('II', 0, 'latin1');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4);
  // IFD0: one entry, the GPS IFD pointer.
  tiff.writeUInt16LE(1, 8);
  const gpsIfd = 8 + 18;
  tiff.writeUInt16LE(0x8825, 10);
  tiff.writeUInt16LE(4, 12);
  tiff.writeUInt32LE(1, 14);
  tiff.writeUInt32LE(gpsIfd, 18);
  tiff.writeUInt32LE(0, 22);
  // GPS IFD: four entries.
  tiff.writeUInt16LE(4, gpsIfd);
  const data = gpsIfd + 2 + 4 * 12 + 4;
  const entry = (index: number, tag: number, type: number, count: number, value: (at: number) => void) => {
    const at = gpsIfd + 2 + index * 12;
    tiff.writeUInt16LE(tag, at);
    tiff.writeUInt16LE(type, at + 2);
    tiff.writeUInt32LE(count, at + 4);
    value(at + 8);
  };
  entry(0, 1, 2, 2, (at) => tiff.write(lat < 0 ? 'S' : 'N', at, 'latin1'));
  entry(1, 2, 5, 3, (at) => tiff.writeUInt32LE(data, at));
  entry(2, 3, 2, 2, (at) => tiff.write(lon < 0 ? 'W' : 'E', at, 'latin1'));
  entry(3, 4, 5, 3, (at) => tiff.writeUInt32LE(data + 24, at));
  tiff.writeUInt32LE(0, gpsIfd + 2 + 4 * 12);
  for (const [index, [numerator, denominator]] of [...dms(lat), ...dms(lon)].entries()) {
    tiff.writeUInt32LE(numerator, data + index * 8);
    tiff.writeUInt32LE(denominator, data + index * 8 + 4);
  }
  return tiff;
}

/** A JPEG with an EXIF APP1 (GPS), an XMP APP1 and a COM segment inserted after SOI. */
export function jpegWithGps(lat: number, lon: number): Buffer {
  const jpeg = ffmpegMake('jpg', ['-frames:v', '1']);
  const segment = (marker: number, payload: Buffer) => {
    const header = Buffer.from([0xff, marker, 0, 0]);
    header.writeUInt16BE(payload.length + 2, 2);
    return Buffer.concat([header, payload]);
  };
  const exif = segment(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), exifWithGps(lat, lon)]));
  const xmp = segment(
    0xe1,
    Buffer.from(
      'http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><exif:GPSLatitude>31,13.8N</exif:GPSLatitude></x:xmpmeta>',
    ),
  );
  const comment = segment(0xfe, Buffer.from('Shot on PhoneModel SN-12345'));
  return Buffer.concat([jpeg.subarray(0, 2), exif, xmp, comment, jpeg.subarray(2)]);
}

function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A PNG with tEXt, eXIf and tIME chunks inserted after IHDR. */
export function pngWithText(): Buffer {
  const png = ffmpegMake('png', ['-frames:v', '1']);
  const afterIhdr = 8 + 12 + png.readUInt32BE(8);
  return Buffer.concat([
    png.subarray(0, afterIhdr),
    pngChunk('tEXt', Buffer.from('Comment\0taken at 31.2304N 121.4737E', 'latin1')),
    pngChunk('eXIf', exifWithGps(31.2304, 121.4737)),
    pngChunk('tIME', Buffer.from([0x07, 0xea, 12, 7, 8, 0, 0])),
    png.subarray(afterIhdr),
  ]);
}

function riffChunk(fourCc: string, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(fourCc, 0, 'latin1');
  header.writeUInt32LE(data.length, 4);
  return Buffer.concat([header, data, data.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

/** An extended WebP (VP8X with the EXIF and XMP flags set) around ffmpeg's VP8 frame, with EXIF and XMP chunks. */
export function webpWithExif(): Buffer {
  const simple = ffmpegMake('webp', ['-frames:v', '1']);
  const frame = simple.subarray(12, 8 + simple.readUInt32LE(4));
  const vp8x = Buffer.alloc(10);
  vp8x[0] = 0x08 | 0x04;
  vp8x.writeUIntLE(31, 4, 3);
  vp8x.writeUIntLE(31, 7, 3);
  const body = Buffer.concat([
    riffChunk('VP8X', vp8x),
    frame,
    riffChunk('EXIF', exifWithGps(31.2304, 121.4737)),
    riffChunk('XMP ', Buffer.from('<x:xmpmeta>GPS 31.2304N</x:xmpmeta>')),
  ]);
  const header = Buffer.alloc(12);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(body.length + 4, 4);
  header.write('WEBP', 8, 'latin1');
  return Buffer.concat([header, body]);
}

/** A one-second video with a location and a comment in its container tags, as a phone writes them. */
export function videoWithLocation(format: 'mp4' | 'webm' | 'mov'): Buffer {
  const codec =
    format === 'webm' ? ['-c:v', 'libvpx', '-b:v', '100k'] : ['-c:v', 'libx264', '-pix_fmt', 'yuv420p'];
  return ffmpegMake(
    format,
    [
      '-t',
      '1',
      ...codec,
      '-metadata',
      'location=+31.2304+121.4737/',
      '-metadata',
      'comment=PhoneModel SN-12345',
      ...(format === 'mov' ? ['-f', 'mov'] : []),
    ],
    'testsrc=size=64x48:rate=10',
  );
}
