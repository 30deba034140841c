import { fileTypeFromBuffer } from 'file-type';
import { extractText as extractPdfText } from 'unpdf';
import { AppError } from '../errors.ts';
import { docxText } from './docx-text.ts';
import { htmlText } from './html-text.ts';
import { InflateBudget } from './inflate-budget.ts';
import { checkPdfStreams } from './pdf-stream-check.ts';

/*
 * What a document is, judged by its bytes (the name only tells Markdown from plain text), and its
 * text. Runs in a document reader process (document-worker.ts), never in the server's.
 */

export type DocumentType = 'text/plain' | 'text/markdown' | 'text/html' | 'application/pdf' | typeof docxType;
const docxType = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

const unsupported = (what: string) => new AppError('UNSUPPORTED_DOCUMENT_TYPE', `${what} Upload .txt, .md, .html, .pdf or .docx.`);

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

export interface ExtractLimits {
  /** KB_MAX_INFLATED_BYTES: how many bytes a .docx or PDF may unpack to (see InflateBudget). */
  maxInflatedBytes: number;
  /** KB_MAX_TEXT_CHARS: how long the extracted text may be (it is stored and chunked whole). */
  maxTextChars: number;
}

/**
 * The document's text, with paragraphs separated by blank lines. Compressed formats are unpacked
 * within an InflateBudget before a parser sees them; HTML is checked for nesting first. Time and
 * memory are bounded by the process this runs in (document-worker-process.ts).
 */
export async function extractDocumentText(bytes: Uint8Array, type: DocumentType, limits: ExtractLimits): Promise<string> {
  const budget = () => new InflateBudget({ fileBytes: bytes.byteLength, maxBytes: limits.maxInflatedBytes });
  switch (type) {
    case 'text/plain':
    case 'text/markdown':
      return decodeUtf8(bytes);
    case 'text/html':
      return htmlText(decodeUtf8(bytes));
    case 'application/pdf': {
      await checkPdfStreams(bytes, budget());
      try {
        const { text } = await extractPdfText(new Uint8Array(bytes), { mergePages: false });
        return text.join('\n\n');
      } catch (error) {
        throw new AppError('DOCUMENT_UNREADABLE', `This PDF cannot be read: ${(error as Error).message}`);
      }
    }
    default:
      return docxText(bytes, budget());
  }
}
