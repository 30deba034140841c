import { describe, expect, it } from 'vitest';
import type { TemplateDefinition } from '../templates/index.ts';
import type { VariableDefinition } from '../templates/template-variables.ts';
import { extractVariables, maxScannedChars } from './variable-extraction.ts';

const template = (...variables: VariableDefinition[]) => ({ variables }) as unknown as TemplateDefinition;

describe('variables read from a chat message', () => {
  it('reads email addresses for a list, however they are punctuated', () => {
    const people = template({ name: 'attendees', type: 'list' });
    expect(extractVariables(people, 'Invite ada.l@example.com, bob+x@mail.example.org and (c-d@ex.io).', '2025-01-01')).toEqual({
      attendees: ['ada.l@example.com', 'bob+x@mail.example.org', 'c-d@ex.io'],
    });
    expect(extractVariables(people, 'Nobody: a.b.c@, @example.com, x@y', '2025-01-01')).toEqual({});
  });

  it('reads an owner/name for a repository, without leading dots or trailing punctuation', () => {
    const repo = template({ name: 'repository', type: 'string', required: true }, { name: 'topic', type: 'string', required: true });
    expect(extractVariables(repo, 'Triage acme/widgets.', '2025-01-01')).toEqual({ repository: 'acme/widgets' });
    expect(extractVariables(repo, 'Triage ../acme-inc/widgets_2 today', '2025-01-01')).toEqual({ repository: 'acme-inc/widgets_2' });
    expect(extractVariables(repo, 'Triage the usual one', '2025-01-01')).toEqual({});
  });

  it(`reads only the first ${maxScannedChars.toLocaleString('en')} characters`, () => {
    const number = template({ name: 'count', type: 'number' });
    expect(extractVariables(number, `make 3 ${'x '.repeat(10)}`, '2025-01-01')).toEqual({ count: 3 });
    expect(extractVariables(number, `${'x '.repeat(maxScannedChars / 2)} make 3`, '2025-01-01')).toEqual({});
  });
});
