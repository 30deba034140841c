import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/*
 * Every regular expression in the product runs in linear time: text from users, documents, tools
 * and models meets them, and one that backtracks quadratically lets a single request hold the
 * event loop for minutes. This test finds every pattern in the product's source by parsing it, so
 * a new pattern is checked without anyone listing it, and times each over 1 MB of inputs known to
 * make patterns backtrack (a quadratic one takes minutes there, a linear one milliseconds).
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The product's sources; tests are not product code. LINEAR_PATTERNS_ROOTS (comma-separated folders) checks others, e.g. an older copy. */
const roots = (process.env.LINEAR_PATTERNS_ROOTS ?? 'backend/src,web/src').split(',');
const inputSize = 1024 * 1024;
const runLimitMs = 2_000;

interface Pattern {
  source: string;
  flags: string;
  /** `file:line`, for the failure message. */
  where: string;
}

interface Input {
  name: string;
  unit: string;
  end: string;
}

function productFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : productFiles(path);
    return /\.(ts|tsx|mts|js|mjs)$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

/** Regex literals, and `RegExp(...)` calls built from string literals; any other `RegExp(...)` cannot be checked. */
function findPatterns(files: string[]): { patterns: Pattern[]; unchecked: string[] } {
  const patterns: Pattern[] = [];
  const unchecked: string[] = [];
  for (const file of files) {
    const kind = file.endsWith('.tsx') ? ts.ScriptKind.TSX : /\.m?js$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, kind);
    const where = (node: ts.Node) => `${relative(root, file)}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
    const visit = (node: ts.Node): void => {
      if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
        const text = (node as ts.RegularExpressionLiteral).text;
        const end = text.lastIndexOf('/');
        patterns.push({ source: text.slice(1, end), flags: text.slice(end + 1), where: where(node) });
      } else if (
        (ts.isNewExpression(node) || ts.isCallExpression(node)) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === 'RegExp'
      ) {
        const [pattern, flags, ...rest] = node.arguments ?? [];
        const literal = (arg: ts.Expression | undefined) =>
          arg !== undefined && (ts.isStringLiteral(arg) || ts.isNoSubstitutionTemplateLiteral(arg));
        if (literal(pattern) && (flags === undefined || literal(flags)) && rest.length === 0) {
          patterns.push({
            source: (pattern as ts.StringLiteral).text,
            flags: flags ? (flags as ts.StringLiteral).text : '',
            where: where(node),
          });
        } else unchecked.push(`${where(node)}: ${node.getText(source).slice(0, 120)}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { patterns, unchecked };
}

/** Inputs that make common pattern shapes backtrack: runs that almost match, separators, nesting. */
const commonInputs: Input[] = [
  { name: "'a.' repeated", unit: 'a.', end: '' },
  { name: "'a-' repeated", unit: 'a-', end: '' },
  { name: "'eyJa-' repeated", unit: 'eyJa-', end: '' },
  { name: "'@.' repeated", unit: '@.', end: '' },
  { name: "'[[[(((' repeated", unit: '[[[(((', end: '' },
  { name: "'a ' repeated", unit: 'a ', end: '' },
  { name: "'\\n \\t' repeated, then 'x'", unit: '\n \t', end: 'x' },
  { name: "'a' repeated, then '!'", unit: 'a', end: '!' },
  { name: "'1.' repeated", unit: '1.', end: '' },
  { name: "'a/' repeated", unit: 'a/', end: '' },
];

/**
 * The literal text a pattern looks for (`password`, `eyJ`, `-----BEGIN `, `${`), in order: escapes
 * that stand for one character count as text; classes, groups, quantifiers and alternations end a
 * piece (a quantified character is left out).
 */
function literalFragments(source: string): string[] {
  const fragments: string[] = [];
  let current = '';
  const flush = () => {
    if (current !== '') fragments.push(current);
    current = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      i++;
      if (/[dDwWsSbBpPuxck0-9]/.test(next)) {
        if (next === 'p' || next === 'P' || (next === 'u' && source[i + 1] === '{')) i = source.indexOf('}', i);
        flush();
      } else current += { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v' }[next] ?? next;
    } else if (c === '[') {
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++;
      flush();
    } else if (c === '{' && /^\{\d+(,\d*)?\}/.test(source.slice(i))) {
      current = current.slice(0, -1);
      flush();
      i = source.indexOf('}', i);
    } else if ('?*+'.includes(c)) {
      current = current.slice(0, -1);
      flush();
    } else if (c === '(') {
      flush();
      const group = /^\(\?(?:[:=!]|<[=!]|<[A-Za-z]\w*>)/.exec(source.slice(i));
      if (group) i += group[0].length - 1;
    } else if (')|.^$'.includes(c)) flush();
    else current += c;
  }
  flush();
  return [...new Set(fragments)];
}

/**
 * Inputs made of a pattern's own words: each repeated with separators a run could continue over
 * (`eyJa-eyJa-…`, `password=password=…`), and the words in order joined by a letter, without the
 * last (`${a:-${a:-…` for `\$\{(\w+)(?::-([^}]*))?\}`: everything but the closing brace).
 */
function derivedInputs(pattern: Pattern): Input[] {
  const words = literalFragments(pattern.source)
    .filter((w) => w.trim() !== '')
    .slice(0, 12);
  const units = new Set<string>();
  for (const word of words) for (const separator of ['', 'a-', 'a.', '=', ' ', '=a.']) units.add(word + separator);
  for (let k = 2; k <= Math.min(words.length, 6); k++) units.add(words.slice(0, k).join('a'));
  return [...units].map((unit) => ({ name: `${JSON.stringify(unit)} repeated`, unit, end: '' }));
}

interface SlowRun {
  where: string;
  pattern: string;
  input: string;
  ms: number;
}

/** Runs every pattern over its inputs in a worker; a run past the limit is stopped and reported, and the rest go on in a new worker. */
function timePatterns(patterns: Pattern[]): Promise<{ slow: SlowRun[]; runs: number }> {
  const jobs = patterns.map((p) => ({ source: p.source, flags: p.flags, inputs: [...commonInputs, ...derivedInputs(p)] }));
  const slow: SlowRun[] = [];
  let runs = 0;
  return new Promise((resolve, reject) => {
    const startWorker = (from: number) => {
      if (from >= jobs.length) return resolve({ slow, runs });
      const worker = new Worker(new URL('./pattern-timing-worker.mjs', import.meta.url), {
        workerData: { patterns: jobs, from, size: inputSize },
      });
      let timer: NodeJS.Timeout | undefined;
      const fail = (index: number, input: string, ms: number) =>
        slow.push({ where: patterns[index]!.where, pattern: `/${patterns[index]!.source}/${patterns[index]!.flags}`, input, ms });
      let stopping = false;
      const stop = () => ((stopping = true), clearTimeout(timer), worker.terminate());
      worker.on('message', (message: { kind: 'start' | 'end' | 'done'; index: number; input: string; ms: number }) => {
        if (stopping) return; // sent before it was stopped
        clearTimeout(timer);
        if (message.kind === 'start') {
          timer = setTimeout(() => {
            fail(message.index, message.input, runLimitMs);
            // The pattern's other inputs are skipped: one slow input is enough to fix it.
            void stop().then(() => startWorker(message.index + 1));
          }, runLimitMs);
        } else if (message.kind === 'end') {
          runs++;
          if (message.ms > runLimitMs) fail(message.index, message.input, Math.round(message.ms));
        } else void stop().then(() => resolve({ slow, runs }));
      });
      worker.on('error', reject);
      worker.on('exit', (code) => stopping || code === 0 || reject(new Error(`the pattern worker stopped (exit code ${code})`)));
    };
    startWorker(0);
  });
}

describe('patterns in product code', () => {
  const { patterns, unchecked } = findPatterns(roots.flatMap((dir) => productFiles(resolve(root, dir))));

  it('are all literals, so they can be checked', () => {
    expect(patterns.length).toBeGreaterThan(0);
    expect(unchecked, 'write these patterns as literals: a pattern built at run time cannot be checked here').toEqual([]);
  });

  it(
    `run in linear time: each over ${inputSize / 1024} KB of adversarial input within ${runLimitMs / 1000} s`,
    { timeout: 120_000 },
    async () => {
      const { slow, runs } = await timePatterns(patterns);
      const report = slow.map((s) => `${s.where} ${s.pattern} took over ${s.ms} ms on ${s.input}`);
      expect(report, 'these patterns backtrack: make them linear (see backend/src/redaction/redact-secrets.ts for how)').toEqual([]);
      expect(runs).toBeGreaterThanOrEqual(patterns.length * commonInputs.length);
    },
  );
});
