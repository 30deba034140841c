import type { ComponentChildren } from 'preact';
import { SettingsAgents } from '../components/settings-agents.tsx';
import { SettingsApprovals } from '../components/settings-approvals.tsx';
import { SettingsProfile } from '../components/settings-profile.tsx';
import { SettingsTemplates } from '../components/settings-templates.tsx';
import { SettingsTokens } from '../components/settings-tokens.tsx';
import { useTitle } from '../hooks.ts';
import './settings-page.css';

const sections = [
  { id: 'profile', title: 'Profile', body: SettingsProfile },
  { id: 'tokens', title: 'API tokens', body: SettingsTokens },
  { id: 'agents', title: 'Agents', body: SettingsAgents },
  { id: 'approvals', title: 'Approvals', body: SettingsApprovals },
  { id: 'templates', title: 'Templates', body: SettingsTemplates },
];

function Section({ id, title, children }: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section id={id} class="settings-section" aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>{title}</h2>
      {children}
    </section>
  );
}

/**
 * Settings: the profile, API tokens, agents and the user's own templates, one section each with
 * an in-page index. Lazy-loaded by the app, so the YAML editor costs nothing until opened.
 */
export function SettingsPage() {
  useTitle('Settings');
  return (
    <div class="settings-page">
      <h1>Settings</h1>
      <nav aria-label="Settings sections" class="settings-nav">
        <ul>
          {sections.map((section) => (
            <li key={section.id}>
              <a href={`#${section.id}`}>{section.title}</a>
            </li>
          ))}
        </ul>
      </nav>
      {sections.map(({ id, title, body: Body }) => (
        <Section key={id} id={id} title={title}>
          <Body />
        </Section>
      ))}
    </div>
  );
}
