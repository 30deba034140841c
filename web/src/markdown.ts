import DOMPurify from 'dompurify';
import { Marked } from 'marked';

const marked = new Marked({ gfm: true, breaks: true, async: false });

// Links a message carries open in a new tab without handing it this page.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.getAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

/**
 * Markdown a model or a user wrote, as HTML safe to insert: parsed with marked, then sanitised by
 * DOMPurify, which drops scripts, event handlers, `javascript:` and other unsafe URLs, forms and
 * frames. Ids and names are prefixed so no message can pose as an element of the page (the skip
 * link's target, a form field). Images from elsewhere are refused by the page's
 * Content-Security-Policy, not here.
 */
export function renderMarkdown(text: string): string {
  const html = marked.parse(text) as string;
  return DOMPurify.sanitize(html, {
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'],
    FORBID_ATTR: ['style'],
    SANITIZE_NAMED_PROPS: true,
  });
}
