/** A field's value, optionally with its part's own content type (a JSON part, say). */
export type MultipartField = string | { value: string; type: string };

/** A multipart/form-data body with some fields and one file part, for `app.inject`. */
export function multipart(file: { name: string; bytes: Buffer; type?: string }, fields: Record<string, MultipartField> = {}) {
  const boundary = `----agentry${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, field] of Object.entries(fields)) {
    const { value, type } = typeof field === 'string' ? { value: field, type: undefined } : field;
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n${value}\r\n`,
      ),
    );
  }
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type ?? 'application/octet-stream'}\r\n\r\n`,
    ),
  );
  parts.push(file.bytes, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
