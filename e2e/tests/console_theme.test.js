// The console's Theme page (docs/console.md): an owner changes the main colour and the previews
// of the sign-in, sign-up and prompt pages follow the form (console-preview.js rebuilds each
// iframe's address), then saves it and the real sign-in page shows it; axe-core and a screenshot
// of the page, and of a French preview of the prompt page. The real content security policy is
// kept (the previews are framed by the console only, sandboxed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { startServer } from '../lib/server.js';
import { launch, checkPage } from '../lib/browser.js';

const PASSWORD = 'correct horse battery';
let server, browser;

before(async () => {
  server = await startServer({ policy: resolve(import.meta.dirname, '..', 'policies', 'theme.toml') });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function setupLink() {
  for (let i = 0; i < 100; i += 1) {
    const found = server.stderr().match(/link=(\S+\/admin\/setup\?token=\S+)/);
    if (found) return found[1].replace(/^"|"$/g, '');
    await wait(20);
  }
  throw new Error(`no setup link in the log: ${server.stderr()}`);
}

// The background colour of the main button inside the preview frame whose address matches.
async function primaryIn(page, pattern) {
  const frame = page.frames().find((f) => pattern.test(f.url()));
  assert.ok(frame, `no frame ${pattern}`);
  return frame.locator('button.primary').first().evaluate((b) => getComputedStyle(b).backgroundColor);
}

test('the previews follow the main colour as it is chosen, and a save shows on the real pages', async () => {
  const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  await page.goto(`${server.base}/signup`);
  await page.locator('#f-email').fill('ada@example.com');
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
  await page.waitForURL(/\/account/);
  await page.goto(await setupLink());
  await page.getByRole('heading', { name: 'Overview' }).waitFor();

  await page.getByRole('link', { name: 'Theme' }).click();
  await page.getByRole('heading', { name: 'Theme' }).waitFor();
  const frames = page.locator('iframe.preview');
  assert.equal(await frames.count(), 3, 'sign-in, sign-up and prompt');
  await page.frameLocator('iframe[title="Sign-in page"]').locator('button.primary').first().waitFor();
  await page.frameLocator('iframe[title^="Prompt page"]').getByText('Company').first().waitFor();
  assert.equal(await primaryIn(page, /preview\/signin/), 'rgb(59, 91, 219)', 'the built-in colour');
  await checkPage(page, 'console-theme', { iframes: false });

  // A new colour: each preview is loaded again with it (no save yet).
  const reloaded = page.waitForEvent('framenavigated', (f) => /preview\/signin\?.*b8400d/i.test(f.url()));
  await page.locator('#f-primary').fill('#b8400d');
  const frame = await reloaded;
  await frame.waitForLoadState('load');
  await frame.locator('button.primary').first().waitFor();
  assert.equal(await primaryIn(page, /preview\/signin\?.*b8400d/i), 'rgb(184, 64, 13)');
  assert.equal(await page.locator('iframe[title="Sign-up page"]').getAttribute('src').then((s) => /b8400d/i.test(s)), true);
  await page.locator('#f-brand').fill('Acme Online');
  const branded = await page.waitForEvent('framenavigated', (f) => /preview\/signin\?.*Acme/.test(f.url()));
  await branded.waitForLoadState('load');
  await branded.getByText('Acme Online').first().waitFor();
  await page.screenshot({ path: resolve(import.meta.dirname, '..', 'artifacts', 'console-theme-preview.png'), fullPage: true });

  // Saved: the real sign-in page, for anyone.
  await page.getByRole('button', { name: 'Save the theme' }).click();
  await page.getByText('The theme is saved').waitFor();
  const visitor = await browser.newContext({ locale: 'en-GB' });
  const signin = await visitor.newPage();
  await signin.goto(`${server.base}/login`);
  await signin.getByText('Acme Online').first().waitFor();
  const colour = await signin.locator('button.primary').first().evaluate((b) => getComputedStyle(b).backgroundColor);
  assert.equal(colour, 'rgb(184, 64, 13)');
  await visitor.close();

  // The prompt page in French, as a preview on its own, readable. Its policy runs no script
  // (sandbox), so axe-core runs in a context that sets the policy aside, signed in alike.
  const checking = await browser.newContext({ storageState: await context.storageState(), bypassCSP: true });
  const preview = await checking.newPage();
  await preview.goto(`${server.base}/admin/preview/prompt?step=about_you&locale=fr`);
  await preview.getByText('Entreprise').first().waitFor();
  await preview.getByText('Aperçu : cette page ne fait rien.').waitFor();
  await checkPage(preview, 'console-theme-prompt-fr');
  await checking.close();
  await context.close();
});
