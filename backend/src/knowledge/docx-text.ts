import mammoth from 'mammoth';
import yauzl from 'yauzl';
import { AppError } from '../errors.ts';
import type { InflateBudget } from './inflate-budget.ts';

/*
 * A .docx's text. The zip is unpacked here, by yauzl, one part at a time, counting the bytes as they
 * come out of the decompressor: a part that declares 1,000 bytes and unpacks to gigabytes stops
 * after its declared size (yauzl checks every part against it) and the whole archive stops at the
 * inflate budget. mammoth then reads only the parts that passed, from memory, and never unpacks
 * anything itself.
 */

/** A .docx with more parts than this is not a document a person wrote. */
const maxEntries = 2000;
/** The parts text comes from: the document, its notes and comments, styles, numbering and relations. Media are never unpacked. */
const textPart = /\.(?:xml|rels)$/i;

const unreadable = (why: string) => new AppError('DOCUMENT_UNREADABLE', `This .docx cannot be read: ${why}`);

/** The text of a .docx, its parts unpacked within `budget`. */
export async function docxText(bytes: Uint8Array, budget: InflateBudget): Promise<string> {
  const parts = await unpackTextParts(bytes, budget);
  try {
    // mammoth's openZip takes a ready zip-file object ({file}) besides a buffer or a path; its
    // typings list only the latter two. Reading through it is what keeps mammoth from unpacking the
    // archive a second time, uncounted (mammoth is pinned; the .docx tests read through this).
    const { value } = await mammoth.extractRawText({ file: zipFileOf(parts) } as unknown as { buffer: Buffer });
    return value;
  } catch (error) {
    throw unreadable((error as Error).message);
  }
}

/** mammoth's zip-file interface over parts already unpacked. */
function zipFileOf(parts: Map<string, Buffer>) {
  return {
    exists: (name: string) => parts.has(name),
    read: async (name: string, encoding?: string) => {
      const part = parts.get(name);
      if (!part) throw new Error(`the part ${name} is missing.`);
      return encoding ? new TextDecoder(encoding).decode(part) : part;
    },
  };
}

/** Unpacks the text parts of a zip, counting every unpacked byte against `budget`. */
function unpackTextParts(bytes: Uint8Array, budget: InflateBudget): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      { lazyEntries: true, validateEntrySizes: true },
      (error, zip) => {
        if (error || !zip) return reject(unreadable('it is not a valid zip archive.'));
        const parts = new Map<string, Buffer>();
        let entries = 0;
        let settled = false;
        const fail = (why: Error) => {
          if (settled) return;
          settled = true;
          zip.close();
          reject(why);
        };
        zip.on('entry', (entry: yauzl.Entry) => {
          if (++entries > maxEntries) return fail(unreadable(`it has more than ${maxEntries} parts.`));
          if (!textPart.test(entry.fileName)) return zip.readEntry();
          // An honest declaration past the budget is refused before anything is unpacked.
          if (entry.uncompressedSize > budget.remaining) return fail(budget.exceeded());
          zip.openReadStream(entry, (streamError, stream) => {
            if (streamError || !stream) return fail(unreadable('its zip structure is damaged.'));
            const chunks: Buffer[] = [];
            stream.on('data', (chunk: Buffer) => {
              try {
                budget.take(chunk.length);
                chunks.push(chunk);
              } catch (exceeded) {
                stream.destroy();
                fail(exceeded as Error);
              }
            });
            // yauzl ends a part with an error as soon as it unpacks past its declared size.
            stream.on('error', () => fail(unreadable(`the part ${entry.fileName} is damaged or unpacks to more than it declares.`)));
            stream.on('end', () => {
              if (settled) return;
              parts.set(entry.fileName, Buffer.concat(chunks));
              zip.readEntry();
            });
          });
        });
        zip.on('end', () => {
          if (settled) return;
          settled = true;
          resolve(parts);
        });
        zip.on('error', () => fail(unreadable('its zip structure is damaged.')));
        zip.readEntry();
      },
    );
  });
}
