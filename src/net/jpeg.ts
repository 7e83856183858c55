/** JPEG's start-of-image marker and the marker after it: what a camera's snapshot must begin with. */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length > 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}
