import { constants as bufferConstants } from 'node:buffer';
import zlib from 'node:zlib';
import type { InflateBudget } from './inflate-budget.ts';

/*
 * A PDF's compressed streams, unpacked and counted before pdf.js sees the file: pdf.js unpacks a
 * content stream whole before it parses it, so a 270 KB PDF whose one stream unpacks to 94 MB held
 * a reader for 17 s and 500 MB. Here the same file is refused once 18 MB came out (its budget: 64
 * times its size), in a fraction of a second, keeping nothing.
 *
 * What is counted: every stream whose data starts with a zlib header (FlateDecode, the filter pdf.js
 * meets in practice), content streams, fonts, object streams and forms alike, except images.
 * Extracting text never decodes an image (a page drawing a 190 MB Flate image reads in 90 ms and
 * 15 MB), and images are what a real PDF's size is made of, so counting them would refuse real files.
 *
 * What is not, and is left to the reader process's time and memory limits: streams of an encrypted
 * PDF (their bytes are not zlib until decrypted), Flate behind another filter (ASCII85, hex),
 * LZW and run-length streams, and a stream that calls itself an image but is used as page content.
 */

/** How much of the bytes before a `stream` keyword may hold its dictionary. */
const dictionaryWindow = 4096;
const image = /\/Subtype\s*\/Image\b/;

/** Unpacks every non-image zlib stream of `pdf`, counting against `budget`; throws once it is spent. */
export async function checkPdfStreams(pdf: Uint8Array, budget: InflateBudget): Promise<void> {
  const bytes = Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength);
  // One pass: each search starts where the previous stream ended, and each dictionary is read from
  // at most 4 KB before its keyword, never before the previous stream's end.
  let at = 0;
  let previousEnd = 0;
  for (;;) {
    const keyword = bytes.indexOf('stream', at, 'latin1');
    if (keyword < 0) return;
    at = keyword + 6;
    if (keyword >= 3 && bytes.toString('latin1', keyword - 3, keyword) === 'end') continue;
    let start = at;
    if (bytes[start] === 0x0d) start++;
    if (bytes[start] === 0x0a) start++;
    if (start === at) continue; // not the keyword, which an end of line follows
    let end = bytes.indexOf('endstream', start, 'latin1');
    if (end < 0) end = bytes.length;
    const before = bytes.toString('latin1', Math.max(keyword - dictionaryWindow, previousEnd), keyword);
    const dictionary = before.slice(before.lastIndexOf('obj') + 1);
    // zlib reads on to the stream's own end, past an `endstream` planted inside its data (pdf.js
    // would read up to its /Length), and stops there whatever follows.
    if (!image.test(dictionary) && isZlib(bytes, start)) await countInflated(bytes.subarray(start), budget);
    at = previousEnd = end;
  }
}

/** A zlib header: deflate, and a check value that divides by 31 (as pdf.js requires too). */
function isZlib(bytes: Buffer, at: number): boolean {
  const cmf = bytes[at];
  const flg = bytes[at + 1];
  return cmf !== undefined && flg !== undefined && (cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0;
}

/**
 * Counts what `data` unpacks to. Most streams are small and whole: zlib unpacks them at once and
 * stops as soon as the output passes what the budget has left. A damaged stream (pdf.js reads what
 * it can of it) is unpacked again as a stream, so what came out before the damage is counted too.
 */
async function countInflated(data: Buffer, budget: InflateBudget): Promise<void> {
  let size: number;
  try {
    const maxOutputLength = Math.min(Math.max(1, budget.remaining + 1), bufferConstants.MAX_LENGTH);
    size = zlib.inflateSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength }).length;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw budget.exceeded();
    size = await countDamaged(data, budget.remaining + 1);
  }
  budget.take(size);
}

function countDamaged(data: Buffer, limit: number): Promise<number> {
  return new Promise((resolve) => {
    let size = 0;
    const inflate = zlib.createInflate({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
    inflate.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        inflate.destroy();
        resolve(size);
      }
    });
    inflate.on('error', () => resolve(size));
    inflate.on('end', () => resolve(size));
    inflate.end(data);
  });
}
