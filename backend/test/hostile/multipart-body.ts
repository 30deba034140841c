import { randomBytes } from 'node:crypto';

export type MultipartPart = { name: string; value: string } | { name: string; filename: string; type: string; content: string };

/**
 * A multipart/form-data body written byte by byte, so names and values reach the server exactly as
 * given (NUL characters included), and `truncated` leaves out the closing boundary.
 */
export function multipartBody(parts: MultipartPart[], options: { truncated?: boolean } = {}): { body: Buffer; contentType: string } {
  const boundary = `hostile${randomBytes(8).toString('hex')}`;
  const chunks = parts.map((part) => {
    const disposition =
      'filename' in part ? `form-data; name="${part.name}"; filename="${part.filename}"` : `form-data; name="${part.name}"`;
    const type = 'filename' in part ? `\r\nContent-Type: ${part.type}` : '';
    const content = 'filename' in part ? part.content : part.value;
    return `--${boundary}\r\nContent-Disposition: ${disposition}${type}\r\n\r\n${content}\r\n`;
  });
  const text = chunks.join('') + (options.truncated ? '' : `--${boundary}--\r\n`);
  return { body: Buffer.from(text, 'utf8'), contentType: `multipart/form-data; boundary=${boundary}` };
}
