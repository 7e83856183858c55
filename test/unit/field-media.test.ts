import { describe, expect, it } from 'vitest';
import {
  exifGpsPosition,
  MalformedMediaError,
  sniffType,
  stripJpeg,
  stripPng,
  stripWebp,
} from '../../src/field/media-sanitizer.ts';
import { exifWithGps, ffprobe, jpegWithGps, pngWithText, webpWithExif } from '../helpers/field-media.ts';

const text = (bytes: Buffer) => bytes.toString('latin1');

describe('field photos: type by magic bytes', () => {
  it('knows each accepted type by its first bytes, whatever it is called', () => {
    expect(sniffType(jpegWithGps(31, 121))).toBe('image/jpeg');
    expect(sniffType(pngWithText())).toBe('image/png');
    expect(sniffType(webpWithExif())).toBe('image/webp');
    const ftyp = (brand: string) =>
      Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.from(`ftyp${brand}\0\0\0\0`)]);
    expect(sniffType(ftyp('isom'))).toBe('video/mp4');
    expect(sniffType(ftyp('qt  '))).toBe('video/quicktime');
    expect(
      sniffType(Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 1, 0x42, 0xf7, 0x81])),
    ).toBe('video/webm');
    expect(sniffType(Buffer.from('<html><script>alert(1)</script>'))).toBeUndefined();
    expect(sniffType(Buffer.from([0xff, 0xd8]))).toBeUndefined();
  });
});

describe('field photos: metadata stripped by walking the file', () => {
  it('drops a JPEG’s EXIF, XMP and COM segments, reading the GPS position first', () => {
    const original = jpegWithGps(31.2304, 121.4737);
    expect(text(original)).toContain('Exif');
    const { bytes, position } = stripJpeg(original);
    expect(position?.lat).toBeCloseTo(31.2304, 4);
    expect(position?.lon).toBeCloseTo(121.4737, 4);
    for (const trace of ['Exif', 'xap/1.0', 'GPSLatitude', 'SN-12345', 'Lavc'])
      expect(text(bytes)).not.toContain(trace);
    // No APP1–APP15 or COM marker is left before the scan.
    const scan = bytes.indexOf(Buffer.from([0xff, 0xda]));
    for (let at = 2; at < scan; ) {
      const marker = bytes[at + 1] ?? 0;
      expect(marker >= 0xe1 && marker <= 0xef).toBe(false);
      expect(marker).not.toBe(0xfe);
      at += 2 + bytes.readUInt16BE(at + 2);
    }
    // Still a JPEG that decodes, of the same size.
    expect(JSON.parse(ffprobe(bytes, 'jpg')).streams[0]).toMatchObject({ width: 32, height: 32 });
  });

  it('keeps an ICC profile (APP2 ICC_PROFILE) but drops other APP2 data (MPF)', () => {
    const jpeg = jpegWithGps(31, 121);
    const app2 = (payload: string) => {
      const body = Buffer.from(payload, 'latin1');
      const header = Buffer.from([0xff, 0xe2, 0, 0]);
      header.writeUInt16BE(body.length + 2, 2);
      return Buffer.concat([header, body]);
    };
    const withProfiles = Buffer.concat([
      jpeg.subarray(0, 2),
      app2('ICC_PROFILE\0\x01\x01Display P3'),
      app2('MPF\0thumbnail-with-exif'),
      jpeg.subarray(2),
    ]);
    const { bytes } = stripJpeg(withProfiles);
    expect(text(bytes)).toContain('ICC_PROFILE');
    expect(text(bytes)).not.toContain('MPF');
  });

  it('leaves out what a phone appends after EOI (a second image with its own EXIF) and walks scan by scan', () => {
    const jpeg = jpegWithGps(31, 121);
    const trailer = Buffer.concat([
      Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0, 20]),
      Buffer.from('Exif\0\0GPS-TRAILER'),
    ]);
    const { bytes } = stripJpeg(Buffer.concat([jpeg, trailer]));
    expect(text(bytes)).not.toContain('GPS-TRAILER');
    expect(bytes.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
    // Scans walked one by one (as a progressive JPEG has them): stuffed bytes and restarts stay in the data, a
    // segment between two scans is judged like any other.
    const sosHeader = Buffer.from([0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0]);
    const scanData = Buffer.from([0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56]);
    const between = Buffer.concat([
      Buffer.from([0xff, 0xe1, 0, 14]),
      Buffer.from('Exif\0\0SECRET', 'latin1'),
    ]);
    const walked = stripJpeg(
      Buffer.concat([
        Buffer.from([0xff, 0xd8]),
        sosHeader,
        scanData,
        between,
        sosHeader,
        scanData,
        Buffer.from([0xff, 0xd9]),
      ]),
    ).bytes;
    expect(walked).toEqual(
      Buffer.concat([
        Buffer.from([0xff, 0xd8]),
        sosHeader,
        scanData,
        sosHeader,
        scanData,
        Buffer.from([0xff, 0xd9]),
      ]),
    );
  });

  it('refuses a JPEG whose segment runs past its end', () => {
    const jpeg = jpegWithGps(31, 121);
    expect(() => stripJpeg(jpeg.subarray(0, 30))).toThrow(MalformedMediaError);
  });

  it('drops a PNG’s tEXt, eXIf and tIME chunks and keeps an image that decodes', () => {
    const original = pngWithText();
    expect(text(original)).toContain('tEXt');
    const bytes = stripPng(original);
    for (const trace of ['tEXt', 'eXIf', 'tIME', '121.4737E']) expect(text(bytes)).not.toContain(trace);
    expect(text(bytes)).toContain('IEND');
    expect(JSON.parse(ffprobe(bytes, 'png')).streams[0]).toMatchObject({ width: 32, height: 32 });
    expect(() => stripPng(original.subarray(0, original.length - 12))).toThrow(MalformedMediaError);
  });

  it('drops a WebP’s EXIF and XMP chunks, clears their VP8X flags and rewrites the RIFF size', () => {
    const original = webpWithExif();
    const bytes = stripWebp(original);
    expect(text(bytes)).not.toContain('EXIF');
    expect(text(bytes)).not.toContain('XMP ');
    expect(text(bytes)).not.toContain('GPS');
    const vp8x = bytes.indexOf('VP8X');
    expect((bytes[vp8x + 8] ?? 0) & 0x0c).toBe(0);
    expect(bytes.readUInt32LE(4)).toBe(bytes.length - 8);
    expect(JSON.parse(ffprobe(bytes, 'webp')).streams[0]).toMatchObject({ codec_name: 'webp' });
  });

  it('reads southern and western GPS positions as negative degrees, and nothing from a block that is no TIFF', () => {
    expect(exifGpsPosition(exifWithGps(-33.8688, -151.2093))).toMatchObject({
      lat: expect.closeTo(-33.8688, 4),
      lon: expect.closeTo(-151.2093, 4),
    });
    expect(exifGpsPosition(Buffer.from('not a tiff'))).toBeUndefined();
  });
});
