import { LRUCache } from 'lru-cache';
import { contentWords, lightStem, type Embedder } from '../providers/index.ts';
import type { TemplateDefinition } from './template-definition.ts';

export interface MatchCandidate {
  id: string;
  version: number;
  definition: TemplateDefinition;
  /** Required integrations the user has not connected; none means the template can run. */
  missingIntegrations: string[];
}

export interface TemplateMatch {
  templateId: string;
  name: string;
  /** 0..1; at or above the configured threshold, chat may start the template directly. */
  confidence: number;
  available: boolean;
  missingIntegrations: string[];
}

interface Profile {
  vectors: Float64Array[];
  terms: Set<string>;
}

/*
 * How the two signals combine into a confidence, fitted on backend/test/template-match-set.json
 * (labelled before fitting) with the local:hashing embedder. Another embedder has another spread
 * of similarities: refit with that set before relying on the threshold.
 */
const semanticWeight = 0.6;
const keywordWeight = 0.4;
const logisticSlope = 16;
const logisticMidpoint = 0.253;

function terms(text: string): string[] {
  return contentWords(text).map(lightStem);
}

function normalised(vector: number[]): Float64Array {
  const out = Float64Array.from(vector);
  const norm = Math.hypot(...out) || 1;
  for (let i = 0; i < out.length; i++) out[i]! /= norm;
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/**
 * Ranks templates for a chat message by two signals: embedding similarity to the template's name
 * and description and to each example phrase (the best one counts), and keyword overlap with all
 * of the template's words, weighted so words common to many templates ("email", "summary") count
 * for less. A logistic curve maps the blend to a confidence in 0..1.
 *
 * Template profiles are embedded once per template version and embedder, and kept in an LRU.
 */
export class TemplateMatcher {
  private readonly profiles = new LRUCache<string, Profile>({ max: 5_000 });

  constructor(private readonly embedder: () => Promise<Embedder>) {}

  async match(message: string, candidates: readonly MatchCandidate[], limit = 5): Promise<TemplateMatch[]> {
    if (candidates.length === 0) return [];
    const embedder = await this.embedder();
    const profiles = await this.profilesOf(embedder, candidates);
    const [messageVector] = await embedder.embed([message]);
    const query = normalised(messageVector!);
    const messageTerms = [...new Set(terms(message))];

    const documentFrequency = new Map<string, number>();
    for (const term of messageTerms) documentFrequency.set(term, profiles.filter((p) => p.terms.has(term)).length);
    const weight = (term: string) => Math.log(1 + candidates.length / (1 + documentFrequency.get(term)!));
    const total = messageTerms.reduce((sum, term) => sum + weight(term), 0);

    return candidates
      .map((candidate, i) => {
        const profile = profiles[i]!;
        const semantic = Math.max(0, ...profile.vectors.map((v) => dot(query, v)));
        const keyword = total > 0 ? messageTerms.reduce((sum, term) => sum + (profile.terms.has(term) ? weight(term) : 0), 0) / total : 0;
        const blend = semanticWeight * semantic + keywordWeight * keyword;
        const confidence = 1 / (1 + Math.exp(-logisticSlope * (blend - logisticMidpoint)));
        return {
          templateId: candidate.id,
          name: candidate.definition.name,
          confidence: Math.round(confidence * 1000) / 1000,
          available: candidate.missingIntegrations.length === 0,
          missingIntegrations: candidate.missingIntegrations,
        };
      })
      .sort((a, b) => b.confidence - a.confidence || a.name.localeCompare(b.name, 'en'))
      .slice(0, limit);
  }

  private async profilesOf(embedder: Embedder, candidates: readonly MatchCandidate[]): Promise<Profile[]> {
    const keyOf = (c: MatchCandidate) => `${embedder.name}:${c.id}:${c.version}`;
    const missing = candidates.filter((c) => !this.profiles.has(keyOf(c)));
    const texts = missing.map((c) => [`${c.definition.name}. ${c.definition.description}`, ...c.definition.examples]);
    const flat = texts.flat();
    const vectors: number[][] = [];
    for (let i = 0; i < flat.length; i += embedder.maxBatchSize)
      vectors.push(...(await embedder.embed(flat.slice(i, i + embedder.maxBatchSize))));
    let next = 0;
    missing.forEach((candidate, i) => {
      const { definition } = candidate;
      const words = [definition.name, definition.description, definition.category, ...definition.tags, ...definition.examples].join(' ');
      this.profiles.set(keyOf(candidate), {
        vectors: texts[i]!.map(() => normalised(vectors[next++]!)),
        terms: new Set(terms(words)),
      });
    });
    return candidates.map((c) => this.profiles.get(keyOf(c))!);
  }
}
