import { describe, expect, it } from 'vitest';
import {
  MultipartError,
  type MultipartPart,
  MultipartReader,
  multipartBoundary,
} from '../../src/net/multipart-reader.ts';

const limits = { maxHeaderBytes: 1024, maxPartBytes: 4096 };

function read(boundary: string, chunks: readonly (string | Buffer)[]): MultipartPart[] {
  const parts: MultipartPart[] = [];
  const reader = new MultipartReader(boundary, limits, (part) => parts.push(part));
  for (const chunk of chunks) reader.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
  return parts;
}

/** Every split of `text` into two chunks: a part whole in one read must also be whole across any two. */
function everySplit(text: string): (readonly string[])[] {
  return Array.from({ length: text.length + 1 }, (_, at) => [text.slice(0, at), text.slice(at)]);
}

describe('reading a multipart event stream', () => {
  it('takes the boundary from the content type, quoted or not', () => {
    expect(multipartBoundary('multipart/x-mixed-replace; boundary=myboundary')).toBe('myboundary');
    expect(multipartBoundary('multipart/mixed; boundary="boundary"')).toBe('boundary');
    expect(multipartBoundary('Multipart/Mixed;boundary=--abc; charset=utf-8')).toBe('--abc');
    expect(multipartBoundary('application/xml')).toBeUndefined();
    expect(multipartBoundary(null)).toBeUndefined();
  });

  // Dahua's eventManager.cgi?action=attach: text parts with Content-Length, CRLF line breaks.
  const dahua =
    '--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 37\r\n\r\nCode=VideoMotion;action=Start;index=0\r\n\r\n' +
    '--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nHeartbeat\r\n\r\n';

  it('reads parts by their Content-Length, however the bytes are split', () => {
    for (const chunks of everySplit(dahua)) {
      const parts = read('myboundary', chunks);
      expect(parts.map((part) => part.body.toString())).toEqual([
        'Code=VideoMotion;action=Start;index=0',
        'Heartbeat',
      ]);
      expect(parts[0]?.headers['content-type']).toBe('text/plain');
    }
  });

  it('reads a part without Content-Length up to the next delimiter, with bare LF line breaks', () => {
    const text = 'preamble\n--b\nContent-Type: application/xml\n\n<a>1</a>\n--b\n\n<b/>\n--b--\n';
    for (const chunks of everySplit(text)) {
      expect(read('b', chunks).map((part) => part.body.toString())).toEqual(['<a>1</a>', '<b/>']);
    }
  });

  it('keeps a binary part whole even when it holds the delimiter’s bytes', () => {
    const jpeg = Buffer.concat([
      Buffer.from([0xff, 0xd8]),
      Buffer.from('\r\n--b\r\n'),
      Buffer.from([0xff, 0xd9]),
    ]);
    const parts = read('b', [
      `--b\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`,
      jpeg,
      '\r\n--b--\r\n',
    ]);
    expect(parts).toHaveLength(1);
    expect(parts[0]?.body.equals(jpeg)).toBe(true);
  });

  it('stops at the close delimiter', () => {
    const parts: MultipartPart[] = [];
    const reader = new MultipartReader('b', limits, (part) => parts.push(part));
    reader.push(
      Buffer.from('--b\r\nContent-Length: 1\r\n\r\nx\r\n--b--\r\n--b\r\nContent-Length: 1\r\n\r\ny'),
    );
    expect(reader.closed).toBe(true);
    expect(parts.map((part) => part.body.toString())).toEqual(['x']);
  });

  it('refuses a part declared over the limit before reading it', () => {
    expect(() => read('b', ['--b\r\nContent-Length: 5000\r\n\r\n'])).toThrow(MultipartError);
    expect(() => read('b', ['--b\r\nContent-Length: 12abc\r\n\r\n'])).toThrow(/not a number/);
  });

  it('refuses headers or an undelimited part that grow past their limits, holding no more than them', () => {
    const headers = new MultipartReader('b', limits, () => undefined);
    expect(() => {
      headers.push(Buffer.from('--b\r\n'));
      for (let index = 0; index < 20; index++)
        headers.push(Buffer.from(`X-Junk-${index}: ${'j'.repeat(60)}\r\n`));
    }).toThrow(/headers exceed 1024/);
    const body = new MultipartReader('b', limits, () => undefined);
    expect(() => {
      body.push(Buffer.from('--b\r\n\r\n'));
      for (let index = 0; index < 10; index++) body.push(Buffer.alloc(512, 0x41));
    }).toThrow(/grew past 4096/);
  });

  it('holds only a delimiter’s length of garbage that never reaches a delimiter', () => {
    const reader = new MultipartReader('myboundary', limits, () => undefined);
    for (let index = 0; index < 100; index++) reader.push(Buffer.alloc(1000, 0x20));
    expect(reader.buffered).toBeLessThan('--myboundary'.length);
  });
});
