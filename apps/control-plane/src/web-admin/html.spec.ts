import { describe, expect, it } from 'vitest';
import { escapeHtml, html, raw } from './html';
import { ADMIN_JS } from './assets/admin-js';

describe('html templates', () => {
  it('escapes every interpolated value', () => {
    const hostile = `<script>alert("x")</script>' onload='x' \`y\` &amp;`;
    const out = html`<p title="${hostile}">${hostile}</p>`.value;
    expect(out).not.toContain('<script>');
    expect(out).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onload=&#39;x&#39; &#96;y&#96; &amp;amp;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onload=&#39;x&#39; &#96;y&#96; &amp;amp;</p>',
    );
  });

  it('keeps nested templates and raw() as they are, escapes arrays element by element, drops null, undefined and false', () => {
    const items = ['<a>', html`<b>${'<c>'}</b>`];
    expect(html`<ul>${items}${null}${undefined}${false}${0}${raw('<hr>')}</ul>`.value).toBe('<ul>&lt;a&gt;<b>&lt;c&gt;</b>0<hr></ul>');
  });

  it('escapeHtml leaves plain text alone', () => {
    expect(escapeHtml('plain text 123')).toBe('plain text 123');
  });

  it('the browser script is valid JavaScript and small', () => {
    expect(() => new Function(ADMIN_JS)).not.toThrow();
    expect(Buffer.byteLength(ADMIN_JS)).toBeLessThan(20_000);
  });
});
