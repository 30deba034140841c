/** A passage with the words of a search marked, built from text segments so nothing in it is ever parsed as HTML. */

export interface Segment {
  text: string;
  match: boolean;
}

const wordPattern = /([\p{L}\p{N}]+)/u;
const shortestQueryWord = 3;
const stemLength = 5;

/** Lower case without accents, so "Résumé" and "resume" compare equal. */
function fold(word: string): string {
  return word.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * Whether a passage word is a form of a query word: the same word, the query word as its prefix
 * ("deploy" in "deployment"), or the same first five letters ("deploying" and "deployment"). A
 * rough stand-in for the server's stemming that errs towards marking too little rather than noise.
 */
function sharesStem(word: string, queryWord: string): boolean {
  if (word.startsWith(queryWord)) return true;
  return queryWord.length >= stemLength && word.length >= stemLength && word.slice(0, stemLength) === queryWord.slice(0, stemLength);
}

/**
 * Splits `text` into alternating plain and matching segments for `query`. Words shorter than three
 * letters in the query ("a", "of") are ignored, so they do not mark half the passage. Adjacent plain
 * pieces are joined, and the segments concatenate back to `text` exactly.
 */
export function highlightSegments(text: string, query: string): Segment[] {
  const queryWords = [...new Set(fold(query).split(/[^\p{L}\p{N}]+/u))].filter((word) => word.length >= shortestQueryWord);
  const segments: Segment[] = [];
  // Splitting on a captured pattern puts the words at the odd indices.
  text.split(wordPattern).forEach((piece, index) => {
    if (piece === '') return;
    const match = index % 2 === 1 && queryWords.some((queryWord) => sharesStem(fold(piece), queryWord));
    const last = segments.at(-1);
    if (last && !last.match && !match) last.text += piece;
    else segments.push({ text: piece, match });
  });
  return segments;
}

/** `text` with the words of `query` in `<mark>`; every piece is a text node. */
export function Highlighted({ text, query }: { text: string; query: string }) {
  return (
    <>{highlightSegments(text, query).map((segment, index) => (segment.match ? <mark key={index}>{segment.text}</mark> : segment.text))}</>
  );
}
