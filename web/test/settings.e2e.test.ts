import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, startConsole, type ConsoleHarness } from './console-harness.ts';

interface OwnTemplate {
  id: string;
  slug: string;
  description: string;
  version: number;
  builtIn: boolean;
}

const templateYaml = `slug: weekly-notes
name: Weekly notes
description: Notes on the week's work.
category: Reporting
systemPrompt: Summarise the week on {{topic}}.
variables:
  - name: topic
    type: string
    required: true
    description: What to cover
`;

describe('the settings page: profile, tokens, agents and templates', () => {
  let h: ConsoleHarness;
  beforeAll(async () => {
    h = await startConsole();
  });
  afterAll(async () => {
    await h?.close();
  });

  const settings = async (options: { width?: number; dark?: boolean } = {}): Promise<Page> => {
    const page = await h.signedInPage({ ...options, path: '/settings' });
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
    return page;
  };
  const ownTemplates = async () =>
    (await h.call<{ templates: OwnTemplate[] }>('GET', '/v1/templates')).body.templates.filter((t) => !t.builtIn);
  const acceptDialogs = (page: Page) => page.on('dialog', (dialog) => void dialog.accept());

  it('changes the name and time zone; only a known zone can be picked', async () => {
    const page = await settings();
    const profile = page.getByRole('region', { name: 'Profile' });
    const zone = profile.getByLabel('Time zone');
    const before = (await h.call<{ user: { timezone: string } }>('GET', '/v1/me')).body.user.timezone;
    await expect.poll(() => zone.inputValue()).toBe(before);

    await profile.getByLabel('Name').fill('Ada Lovelace');
    await zone.selectOption('Europe/Berlin');
    await profile.getByRole('button', { name: 'Save profile' }).click();
    await expect.poll(() => profile.getByRole('status').textContent()).toBe('Saved');
    await expect.poll(() => page.locator('.who').textContent()).toBe('Ada Lovelace');
    const me = await h.call<{ user: { name: string; timezone: string } }>('GET', '/v1/me');
    expect(me.body.user).toMatchObject({ name: 'Ada Lovelace', timezone: 'Europe/Berlin' });

    // The list offers zones only; a made-up one is not among them, and the server refuses it too.
    await expect(zone.selectOption('Mars/Olympus_Mons', { timeout: 500 })).rejects.toThrow();
    expect(await zone.inputValue()).toBe('Europe/Berlin');
    expect((await h.call('PATCH', '/v1/me', { timezone: 'Mars/Olympus_Mons' })).status).toBe(400);
    await page.context().close();
  });

  it('shows a new token once; it works, is listed without its secret after a reload, and stops working when revoked', async () => {
    const page = await settings();
    acceptDialogs(page);
    const tokens = page.getByRole('region', { name: 'API tokens' });
    await tokens.getByLabel('Token name').fill('Deploy script');
    await tokens.getByLabel('Expires after (days)').fill('30');
    await tokens.getByRole('button', { name: 'Create token' }).click();

    const secretField = tokens.getByLabel('Your new token');
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    expect(secret).toMatch(/^agt_/);
    expect(await secretField.getAttribute('readonly')).not.toBeNull();
    expect(await tokens.getByText('it will not be shown again').isVisible()).toBe(true);
    const asNewToken = () => fetch(`${h.url}/v1/me`, { headers: { authorization: `Bearer ${secret}` } });
    expect((await asNewToken()).status).toBe(200);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await tokens.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => tokens.getByRole('status').textContent()).toBe('Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);

    await page.reload();
    const row = page.getByRole('row').filter({ hasText: 'Deploy script' });
    await row.waitFor();
    expect(await row.textContent()).toContain(secret.slice(0, 8));
    const everything = await page.evaluate(() =>
      [
        document.documentElement.outerHTML,
        ...Array.from(document.querySelectorAll('input, textarea'), (field) => (field as HTMLInputElement).value),
      ].join('\n'),
    );
    expect(everything).not.toContain(secret);

    await row.getByRole('button', { name: 'Revoke Deploy script' }).click();
    await expect.poll(() => row.count()).toBe(0);
    expect((await asNewToken()).status).toBe(401);
    await page.context().close();
  });

  it('creates a template in YAML, edits it in the form as version 2, and shows version 1; broken YAML saves nothing', async () => {
    const page = await settings();
    const templates = page.getByRole('region', { name: 'Templates' });
    await templates.getByRole('button', { name: 'New template' }).click();
    await templates.getByRole('tab', { name: 'YAML' }).click();
    const yaml = templates.getByLabel('Template as YAML');

    await yaml.fill('slug: broken\nname: a: b\n');
    await expect.poll(() => templates.locator('#tpl-yaml-problem').textContent()).toMatch(/line 2, column \d+/);
    expect(await templates.getByRole('button', { name: 'Create template' }).isDisabled()).toBe(true);
    await templates.getByRole('tab', { name: 'Form' }).click();
    expect(await templates.getByRole('tab', { name: 'YAML' }).getAttribute('aria-selected')).toBe('true');

    await yaml.fill(templateYaml.replace('{{topic}}', '{{week}}'));
    await templates.getByRole('button', { name: 'Create template' }).click();
    await expect.poll(() => templates.getByRole('alert').textContent()).toMatch(/systemPrompt: uses \{\{week\}\}, which is not declared/);
    expect(await ownTemplates()).toEqual([]);

    await yaml.fill(templateYaml);
    await templates.getByRole('button', { name: 'Create template' }).click();
    const editor = templates.getByRole('form', { name: 'Edit “Weekly notes” (now version 1)' });
    await editor.waitFor();
    const [created] = await ownTemplates();
    expect(created).toMatchObject({ slug: 'weekly-notes', version: 1, description: "Notes on the week's work." });

    await editor.getByRole('tab', { name: 'Form' }).click();
    expect(await editor.getByLabel('Slug').inputValue()).toBe('weekly-notes');
    expect(await editor.getByLabel('Template name').inputValue()).toBe('Weekly notes');
    expect(await editor.getByLabel('System prompt').inputValue()).toBe('Summarise the week on {{topic}}.');
    const variable = editor.getByRole('group', { name: 'Variable 1' });
    expect(await variable.getByLabel('Name').inputValue()).toBe('topic');
    expect(await variable.getByLabel('Type').inputValue()).toBe('string');
    expect(await variable.getByLabel('Required').isChecked()).toBe(true);
    expect(await variable.getByLabel('Description').inputValue()).toBe('What to cover');

    await editor.getByLabel('Description', { exact: true }).first().fill('Notes on the week, for the team.');
    await editor.getByRole('button', { name: 'Save as a new version' }).click();
    await templates.getByRole('form', { name: 'Edit “Weekly notes” (now version 2)' }).waitFor();
    const history = templates.getByRole('list', { name: 'Versions of Weekly notes' });
    await expect
      .poll(() => history.getByRole('listitem').allTextContents())
      .toEqual([expect.stringMatching(/^Version 2 .*\(current\)/), expect.stringMatching(/^Version 1 /)]);
    const [edited] = await ownTemplates();
    expect(edited).toMatchObject({ id: created!.id, version: 2, description: 'Notes on the week, for the team.' });

    await history.getByRole('button', { name: 'View YAML of version 1' }).click();
    const old = templates.getByRole('region', { name: 'Version 1 (read-only)' });
    await expect.poll(() => old.locator('pre').textContent()).toContain("description: Notes on the week's work.");
    await page.context().close();
  });

  it('shows the server naming a field it refuses, creates an agent, and deletes it (never the default one)', async () => {
    const page = await settings();
    acceptDialogs(page);
    const agents = page.getByRole('region', { name: 'Agents' });
    await agents.getByRole('listitem').filter({ hasText: 'Assistant' }).waitFor();
    expect(await agents.getByRole('button', { name: 'Delete Assistant' }).count()).toBe(0);

    await agents.getByRole('button', { name: 'New agent' }).click();
    const form = agents.getByRole('form', { name: 'New agent' });
    await form.getByLabel('Agent name').fill('Researcher');
    await form.getByLabel('Instructions').fill('Answer from the knowledge base.');
    // The model is picked from the server's list, grouped by provider, or typed when it is not listed.
    const model = form.getByLabel('Model', { exact: true });
    expect(await model.locator('optgroup[label="local"] option').allTextContents()).toEqual(['local:offline · free']);
    await model.selectOption('__other__');
    await form.getByLabel('Model id').fill('gpt-4o');
    await form.getByLabel('Tools').fill('knowledge_search');
    // The agent's approval rules: Slack's tools wait for the user; deleting anything is never offered.
    await form.getByRole('button', { name: 'Add rule' }).click();
    await form.getByLabel('Rule 1 tool').fill('slack__*');
    await form.getByRole('button', { name: 'Add rule' }).click();
    await form.getByLabel('Rule 2 tool').fill('*__delete_*');
    await form.getByLabel('Rule 2 decision').selectOption('deny');
    await form.getByRole('button', { name: 'Create agent' }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toMatch(/model.*provider:model/);

    await model.selectOption('local:offline');
    await form.getByRole('button', { name: 'Create agent' }).click();
    const item = agents.getByRole('listitem').filter({ hasText: 'Researcher' });
    await item.waitFor();
    const list = async () =>
      (
        await h.call<{
          agents: Array<{ name: string; model: string | null; tools: string[] | null; instructions: string; approvalRules: unknown }>;
        }>('GET', '/v1/agents')
      ).body.agents;
    expect(await list()).toContainEqual(
      expect.objectContaining({
        name: 'Researcher',
        model: 'local:offline',
        tools: ['knowledge_search'],
        instructions: 'Answer from the knowledge base.',
        approvalRules: [
          { tool: 'slack__*', decision: 'ask' },
          { tool: '*__delete_*', decision: 'deny' },
        ],
      }),
    );
    await expect.poll(() => item.textContent()).toContain('Approval rules: slack__* ask, *__delete_* deny');

    await item.getByRole('button', { name: 'Delete Researcher' }).click();
    await expect.poll(() => item.count()).toBe(0);
    expect((await list()).map((agent) => agent.name)).toEqual(['Assistant']);
    await page.context().close();
  });

  it('passes axe with a template open, on a desktop and at 375 px in the dark', async () => {
    const definition = {
      slug: 'axe-check',
      name: 'Axe check',
      description: 'For the accessibility check.',
      category: 'Checks',
      systemPrompt: 'Check {{thing}}.',
      variables: [{ name: 'thing', type: 'enum', values: ['a', 'b'] }],
    };
    expect((await h.call('POST', '/v1/templates', definition)).status).toBe(201);
    for (const options of [{}, { width: 375, dark: true }]) {
      const page = await settings(options);
      const templates = page.getByRole('region', { name: 'Templates' });
      await templates.getByRole('button', { name: 'Edit Axe check' }).click();
      await templates.getByRole('list', { name: 'Versions of Axe check' }).waitFor();
      await expectAccessible(page, `settings with a template open (${options.width ?? 'desktop'})`);
      await templates.getByRole('tab', { name: 'YAML' }).click();
      await expectAccessible(page, `settings with a template as YAML (${options.width ?? 'desktop'})`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(options.width ?? 1280);
      // The tabs follow the keyboard: the arrow keys move between them.
      await page.keyboard.press('ArrowLeft');
      await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Form');
      expect(await templates.getByRole('tab', { name: 'Form' }).getAttribute('aria-selected')).toBe('true');
      await page.context().close();
    }
  });
});
