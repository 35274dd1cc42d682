/**
 * node:zlib behind the format's ZipCodec: native inflate and CRC-32, several
 * times faster than the pure-JS defaults. `maxOutputLength` bounds the output,
 * so a lying header cannot make it allocate more than the entry declares.
 */
import { crc32, inflateRawSync } from 'node:zlib';
import type { ZipCodec } from '../shared/bundle/index.ts';

export const nodeZipCodec: ZipCodec = {
  inflateRaw(compressed, limit) {
    try {
      const out = inflateRawSync(compressed, { maxOutputLength: limit });
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return 'too-large';
      throw error;
    }
  },
  crc32: (data) => crc32(data),
};
