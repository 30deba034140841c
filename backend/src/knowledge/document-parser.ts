import { fileTypeFromBuffer } from 'file-type';
import { convert as htmlToText } from 'html-to-text';
import mammoth from 'mammoth';
import { extractText as extractPdfText } from 'unpdf';
import yauzl from 'yauzl';
import { AppError } from '../errors.ts';

/*
 * What a document is, judged by its bytes (the name only tells Markdown from plain text), and its
 * text. Runs in the document worker (document-worker.ts), never on the request thread.
 */

export type DocumentType = 'text/plain' | 'text/markdown' | 'text/html' | 'application/pdf' | typeof docxType;
const docxType = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

/** A .docx may inflate to at most this much, whatever its entries claim. */
const docxMaxInflatedBytes = 64 * 1024 * 1024;
const docxMaxEntries = 2000;

const unsupported = (what: string) =>
  new AppError('UNSUPPORTED_DOCUMENT_TYPE', `${what} Upload .txt, .md, .html, .pdf or .docx.`);

/** Detects the type from the content. Text is text only when it decodes as UTF-8 and has no NULs. */
export async function detectDocumentType(bytes: Uint8Array, fileName: string | undefined): Promise<DocumentType> {
  const detected = await fileTypeFromBuffer(bytes);
  if (detected) {
    if (detected.mime === 'application/pdf') return 'application/pdf';
    if (detected.ext === 'docx') return docxType;
    // A zip named .docx that is not a recognisable one is a damaged .docx, not another type.
    if (detected.ext === 'zip' && /\.docx$/i.test(fileName ?? '')) return docxType;
    if (detected.mime !== 'application/xml') throw unsupported(`This file is ${detected.mime} (detected from its content).`);
  }
  const sample = bytes.subarray(0, 64 * 1024);
  let controls = 0;
  for (const byte of sample) {
    if (byte === 0) throw unsupported('This file is binary, not text (detected from its content).');
    if (byte < 9 || (byte > 13 && byte < 32)) controls++;
  }
  if (controls > sample.length / 10) throw unsupported('This file is binary, not text (detected from its content).');
  const extension = fileName?.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1];
  const head = Buffer.from(bytes.subarray(0, 1024)).toString('utf8').trimStart().toLowerCase();
  if (extension === 'html' || extension === 'htm' || head.startsWith('<!doctype html') || head.startsWith('<html')) return 'text/html';
  if (extension === 'md' || extension === 'markdown') return 'text/markdown';
  return 'text/plain';
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new AppError('DOCUMENT_UNREADABLE', 'The file is not valid UTF-8 text; save it as UTF-8 and upload it again.');
  }
}

/** Reads a zip's central directory and refuses archives that would inflate beyond reason. */
function checkDocxSize(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const unreadable = (why: string) => new AppError('DOCUMENT_UNREADABLE', `This .docx cannot be read: ${why}`);
    yauzl.fromBuffer(Buffer.from(bytes), { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return reject(unreadable('it is not a valid zip archive.'));
      let total = 0;
      let entries = 0;
      zip.on('entry', (entry: yauzl.Entry) => {
        total += entry.uncompressedSize;
        if (++entries > docxMaxEntries || total > docxMaxInflatedBytes) {
          zip.close();
          return reject(unreadable(`it would inflate to more than ${docxMaxInflatedBytes / 1024 / 1024} MiB.`));
        }
        zip.readEntry();
      });
      zip.on('end', () => resolve());
      zip.on('error', () => reject(unreadable('its zip structure is damaged.')));
      zip.readEntry();
    });
  });
}

/** The document's text, with paragraphs separated by blank lines. */
export async function extractDocumentText(bytes: Uint8Array, type: DocumentType): Promise<string> {
  switch (type) {
    case 'text/plain':
    case 'text/markdown':
      return decodeUtf8(bytes);
    case 'text/html':
      return htmlToText(decodeUtf8(bytes), {
        wordwrap: false,
        selectors: [
          { selector: 'a', options: { ignoreHref: true } },
          { selector: 'img', format: 'skip' },
        ],
      });
    case 'application/pdf': {
      try {
        const { text } = await extractPdfText(new Uint8Array(bytes), { mergePages: false });
        return text.join('\n\n');
      } catch (error) {
        throw new AppError('DOCUMENT_UNREADABLE', `This PDF cannot be read: ${(error as Error).message}`);
      }
    }
    default: {
      await checkDocxSize(bytes);
      try {
        const { value } = await mammoth.extractRawText({ buffer: Buffer.from(bytes) });
        return value;
      } catch (error) {
        throw new AppError('DOCUMENT_UNREADABLE', `This .docx cannot be read: ${(error as Error).message}`);
      }
    }
  }
}
