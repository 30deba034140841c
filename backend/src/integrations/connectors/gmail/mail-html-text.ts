/*
 * The text of an HTML-only mail, for a model to read. A mail is not a page: no layout to keep, no
 * links to follow, often deeply nested tables. So this is one forward pass over the markup rather
 * than a parser building a tree: every `indexOf` starts where the last one stopped, so the work
 * is linear in the input whatever the nesting, and the input is capped before it starts.
 */

/** Elements whose content is not text a reader sees. */
const hidden = new Set(['script', 'style', 'head', 'title', 'template', 'noscript']);
/** Elements that start a new line. */
const blocks = new Set(['br', 'p', 'div', 'tr', 'li', 'ul', 'ol', 'table', 'blockquote', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'pre']);

const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', ndash: '–', mdash: '—', hellip: '…' };

/** The visible text of `html`, lines trimmed, at most one blank line in a row. Reads at most `maxInput` characters. */
export function mailHtmlText(html: string, maxInput = 512 * 1024): string {
  const source = html.length > maxInput ? html.slice(0, maxInput) : html;
  const out: string[] = [];
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf('<', at);
    if (open < 0) {
      out.push(text(source.slice(at)));
      break;
    }
    out.push(text(source.slice(at, open)));
    if (source.startsWith('<!--', open)) {
      const end = source.indexOf('-->', open + 4);
      at = end < 0 ? source.length : end + 3;
      continue;
    }
    const close = source.indexOf('>', open + 1);
    if (close < 0) break;
    const { name, closing } = tagName(source, open + 1, close);
    at = close + 1;
    if (!closing && hidden.has(name)) {
      at = skipPast(source, name, at);
      continue;
    }
    // A list item or table row starts a line; the end of a block leaves a blank one (tidied to one at most).
    if (name === 'li' || name === 'tr') out.push(closing ? '' : name === 'li' ? '\n- ' : '\n');
    else if (blocks.has(name)) out.push('\n');
    else if (name === 'td' || name === 'th') out.push(' ');
  }
  return tidy(out.join(''));
}

function tagName(source: string, from: number, to: number): { name: string; closing: boolean } {
  let at = from;
  const closing = source[at] === '/';
  if (closing) at++;
  let end = at;
  while (end < to && end - at < 16 && /[a-zA-Z0-9]/.test(source[end]!)) end++;
  return { name: source.slice(at, end).toLowerCase(), closing };
}

/** The index just past `</name ...>`, searching forward only; the end of the input when it never closes. */
function skipPast(source: string, name: string, from: number): number {
  let at = from;
  for (;;) {
    const candidate = source.indexOf('</', at);
    if (candidate < 0) return source.length;
    if (source.slice(candidate + 2, candidate + 2 + name.length).toLowerCase() === name) {
      const end = source.indexOf('>', candidate);
      return end < 0 ? source.length : end + 1;
    }
    at = candidate + 2;
  }
}

function text(chunk: string): string {
  return chunk.replace(/\s+/g, ' ').replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,8});/g, (whole, entity: string) => {
    if (entity.startsWith('#')) {
      const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return named[entity.toLowerCase()] ?? whole;
  });
}

function tidy(joined: string): string {
  const lines = joined.split('\n').map((line) => line.replace(/ {2,}/g, ' ').trim());
  const kept: string[] = [];
  for (const line of lines) if (line !== '' || (kept.length > 0 && kept[kept.length - 1] !== '')) kept.push(line);
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  return kept.join('\n');
}
