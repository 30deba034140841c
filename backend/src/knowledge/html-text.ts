import { Parser } from 'htmlparser2';
import { convert } from 'html-to-text';
import { AppError } from '../errors.ts';

/*
 * An HTML page's text. html-to-text walks the page's tree recursively, and the parser under it
 * (htmlparser2) keeps its open elements in an array it adds to at the front, so every element costs
 * as much as the depth it opens at: 100,000 nested <div>s took 9 s to parse and then overflowed the
 * stack. The nesting is measured first, by the same parser with the tree left unbuilt, and stopped
 * at a depth no real page reaches; only a page within it is converted.
 */

/** Deeper than any page a person or a site generator writes (they stay under a few hundred). */
export const maxHtmlDepth = 512;

/** The text of an HTML page; throws DOCUMENT_TOO_COMPLEX when elements nest deeper than `maxHtmlDepth`. */
export function htmlText(html: string): string {
  checkNesting(html);
  return convert(html, {
    wordwrap: false,
    limits: { maxDepth: maxHtmlDepth },
    selectors: [
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'img', format: 'skip' },
    ],
  });
}

class TooDeep extends Error {}

/**
 * Tracks the depth through the parser's open and close events, which include the elements it
 * closes itself (void elements, a <p> that another block ends), so the depth is the tree's. The
 * parser stops at the first element past the limit; up to there each element costs at most
 * `maxHtmlDepth`, so the whole check is linear in the page's size.
 */
function checkNesting(html: string): void {
  let depth = 0;
  const parser = new Parser({
    onopentag() {
      if (++depth > maxHtmlDepth) throw new TooDeep();
    },
    onclosetag() {
      depth--;
    },
  });
  try {
    parser.end(html);
  } catch (error) {
    if (!(error instanceof TooDeep)) throw error;
    throw new AppError('DOCUMENT_TOO_COMPLEX', `This HTML nests elements more than ${maxHtmlDepth} deep; no real page does.`);
  }
}
