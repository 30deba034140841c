import { AppError } from '../errors.ts';

/**
 * Unpacked bytes beyond which a document must also stay within `maxRatio` times its own size. Below
 * it any ratio passes: small real files (a .docx of a few kilobytes, a PDF with one embedded font)
 * often unpack 20 to 50 times.
 */
const ratioFloorBytes = 16 * 1024 * 1024;
/**
 * How many times its own size a document may unpack to past the floor. Real documents stay far
 * below: Office XML unpacks 5 to 20 times, PDF content streams and fonts 2 to 10, and a whole file
 * (with its JPEG images, which are not unpacked) much less. A deflate bomb unpacks about 1,000 times.
 */
const maxRatio = 64;

/**
 * How many bytes one document may unpack to, counted from what the decompressor actually produces
 * (never from sizes the file declares). The limit is the smaller of `maxBytes` (KB_MAX_INFLATED_BYTES)
 * and `maxRatio` times the file's size (at least 16 MiB), so a 300 KB file that unpacks to 90 MB is
 * refused after 19 MB, and a 20 MiB document with real content passes.
 */
export class InflateBudget {
  readonly limit: number;
  private used = 0;

  constructor(options: { fileBytes: number; maxBytes: number }) {
    this.limit = Math.min(options.maxBytes, Math.max(ratioFloorBytes, options.fileBytes * maxRatio));
  }

  /** Bytes that may still be unpacked. */
  get remaining(): number {
    return this.limit - this.used;
  }

  /** Counts `bytes` more unpacked bytes; throws DOCUMENT_TOO_COMPLEX once past the limit. */
  take(bytes: number): void {
    this.used += bytes;
    if (this.used > this.limit) throw this.exceeded();
  }

  exceeded(): AppError {
    const mib = (this.limit / 1024 / 1024).toFixed(this.limit < 10 * 1024 * 1024 ? 1 : 0);
    return new AppError(
      'DOCUMENT_TOO_COMPLEX',
      `This document unpacks to more than ${mib} MiB, more than a document of its size may (KB_MAX_INFLATED_BYTES).`,
    );
  }
}
