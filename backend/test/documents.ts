import zlib from 'node:zlib';
import JSZip from 'jszip';

/*
 * Real documents for tests, built in code so every fixture is readable: a PDF with a text layer
 * (one page per paragraph), a PDF with none (a drawn rectangle), and a .docx. And hostile ones:
 * decompression bombs built from a few kilobytes of deflate blocks, so no big fixture is committed.
 */

/** A page's content: plain operators, or bytes already compressed with FlateDecode (maybe posing as an image). */
type PageStream = string | { flate: Buffer; posingAsImage?: boolean };

function pdf(pageStreams: PageStream[]): Buffer {
  const objects: string[] = [];
  const pageIds = pageStreams.map((_, i) => 4 + i * 2);
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[2] = `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pageIds.length} >>`;
  objects[3] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';
  pageStreams.forEach((stream, i) => {
    const pageId = 4 + i * 2;
    objects[pageId] =
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${pageId + 1} 0 R >>`;
    const data = typeof stream === 'string' ? stream : stream.flate.toString('latin1');
    const filter = typeof stream === 'string' ? '' : ` /Filter /FlateDecode${stream.posingAsImage ? ' /Subtype /Image' : ''}`;
    objects[pageId + 1] = `<< /Length ${Buffer.byteLength(data, 'latin1')}${filter} >>\nstream\n${data}\nendstream`;
  });
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  for (let id = 1; id < objects.length; id++) {
    offsets[id] = Buffer.byteLength(out, 'latin1');
    out += `${id} 0 obj\n${objects[id]}\nendobj\n`;
  }
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let id = 1; id < objects.length; id++) out += `${String(offsets[id]).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/** A PDF whose pages carry `paragraphs` as real text. */
export function textPdf(paragraphs: string[]): Buffer {
  const escape = (s: string) => s.replace(/[\\()]/g, (c) => `\\${c}`);
  return pdf(paragraphs.map((p) => `BT /F1 12 Tf 72 720 Td (${escape(p)}) Tj ET`));
}

/** A scanned-looking PDF: a page with a drawing and no text layer. */
export function imageOnlyPdf(): Buffer {
  return pdf(['0 0 1 rg 100 100 200 200 re f']);
}

/** A .docx whose body has one paragraph per entry. */
export async function docx(paragraphs: string[]): Promise<Buffer> {
  const zip = new JSZip();
  zip.file(
    '[Content_Types].xml',
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
  );
  zip.file(
    '_rels/.rels',
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
  );
  const body = paragraphs
    .map((p) => `<w:p><w:r><w:t xml:space="preserve">${p.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</w:t></w:r></w:p>`)
    .join('');
  zip.file(
    'word/document.xml',
    `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}</w:body></w:document>`,
  );
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

/** A .docx-shaped zip whose document part inflates to `bytes` of nothing (a decompression bomb). */
export async function docxBomb(bytes: number): Promise<Buffer> {
  const zip = await JSZip.loadAsync(await docx(['x']));
  zip.file('word/document.xml', Buffer.alloc(bytes, 0x20));
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE', compressionOptions: { level: 9 } });
}

/**
 * Deflate data that inflates to `bytes` bytes of `unit` repeated: one megabyte compressed once and
 * repeated as independent blocks (a full flush ends each block byte-aligned with an empty
 * dictionary, so blocks concatenate), then the final empty block. About 1 KB per MiB of spaces.
 */
function deflateBomb(unit: string, bytes: number): Buffer {
  const mib = 1024 * 1024;
  const chunk = Buffer.alloc(mib, unit);
  const block = zlib.deflateRawSync(chunk, { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const parts = Array.from({ length: Math.floor(bytes / mib) }, () => block);
  const rest = bytes % mib;
  if (rest > 0) parts.push(zlib.deflateRawSync(chunk.subarray(0, rest), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH }));
  parts.push(zlib.deflateRawSync(Buffer.alloc(0)));
  return Buffer.concat(parts);
}

/** Adler-32 of `bytes` bytes of `chunk` repeated, without building them (zlib's adler32_combine). */
function repeatedAdler32(chunk: Buffer, bytes: number): number {
  const base = 65521;
  const adler = (data: Buffer) => {
    let a = 1;
    let b = 0;
    for (const byte of data) {
      a = (a + byte) % base;
      b = (b + a) % base;
    }
    return { a, b };
  };
  const combine = (first: { a: number; b: number }, second: { a: number; b: number }, secondLength: number) => {
    const rem = secondLength % base;
    return { a: (first.a + second.a + base - 1) % base, b: (((rem * first.a) % base) + first.b + second.b + base - rem) % base };
  };
  const whole = adler(chunk);
  let sum = { a: 1, b: 0 };
  for (let done = 0; done + chunk.length <= bytes; done += chunk.length) sum = combine(sum, whole, chunk.length);
  const rest = bytes % chunk.length;
  if (rest > 0) sum = combine(sum, adler(chunk.subarray(0, rest)), rest);
  return ((sum.b << 16) | sum.a) >>> 0;
}

/**
 * A PDF of a few hundred kilobytes whose one content stream inflates to `bytes` of text operators.
 * `posingAsImage` labels the stream an image, which pdf.js ignores when the page uses it as content.
 */
export function pdfBomb(bytes: number, options: { posingAsImage?: boolean } = {}): Buffer {
  const unit = 'BT /F1 12 Tf 72 720 Td (bomb) Tj ET\n';
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(repeatedAdler32(Buffer.alloc(1024 * 1024, unit), bytes));
  const flate = Buffer.concat([Buffer.from([0x78, 0xda]), deflateBomb(unit, bytes), adler]);
  return pdf([{ flate, ...options }]);
}

/** HTML with `depth` nested elements around one word. */
export function nestedHtml(depth: number): Buffer {
  return Buffer.from(`<!doctype html><html><body>${'<div>'.repeat(depth)}deep${'</div>'.repeat(depth)}</body></html>`);
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

interface ZipEntry {
  name: string;
  /** The deflated bytes. */
  deflated: Buffer;
  crc: number;
  /** The size the archive declares the entry inflates to (a bomb lies here). */
  declaredSize: number;
}

/** A zip archive written by hand, so an entry can declare any size. */
function zip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(entry.crc, 14);
    local.writeUInt32LE(entry.deflated.length, 18);
    local.writeUInt32LE(entry.declaredSize, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(entry.crc, 16);
    central.writeUInt32LE(entry.deflated.length, 20);
    central.writeUInt32LE(entry.declaredSize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, entry.deflated);
    centrals.push(central, name);
    offset += local.length + name.length + entry.deflated.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/**
 * A .docx whose document part declares `declaredSize` bytes in the zip's directory but inflates
 * to `bytes` (spaces): a guard that trusts the directory lets it through.
 */
export async function lyingDocxBomb(bytes: number, declaredSize = 1000): Promise<Buffer> {
  const real = await JSZip.loadAsync(await docx(['x']));
  const entries: ZipEntry[] = [];
  for (const name of ['[Content_Types].xml', '_rels/.rels']) {
    const content = await real.file(name)!.async('nodebuffer');
    entries.push({ name, deflated: zlib.deflateRawSync(content), crc: crc32(content), declaredSize: content.length });
  }
  entries.push({ name: 'word/document.xml', deflated: deflateBomb(' ', bytes), crc: 0, declaredSize });
  return zip(entries);
}
