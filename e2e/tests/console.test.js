// The admin console as its first administrator meets it (docs/console.md): the setup link the
// server logs at start, the console's sign-in through the hosted pages, the overview's funnel
// after real prompts and its period (sign-ups per day), giving a colleague a role, the audit log, disabling an account (its sign-in
// refused, then enabled) and app_metadata refused as JSON; axe-core and a screenshot of
// each page, and the overview in French.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { launch, checkPage } from '../lib/browser.js';

const PASSWORD = 'correct horse battery';
let server, app, browser;

before(async () => {
  server = await startServer({ policy: resolve(import.meta.dirname, '..', 'policies', 'protect.toml') });
  app = await startRelyingParty({
    issuer: server.base,
    register: (redirectUri) => createClient(server, { id: 'app', name: 'Acme', redirectUri }),
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await server?.stop();
});

async function newPage(options = {}) {
  const context = await browser.newContext({ bypassCSP: true, locale: 'en-GB', ...options });
  return context.newPage();
}

// The setup link from the server's log (written before it serves its first request).
async function setupLink() {
  for (let i = 0; i < 100; i += 1) {
    const found = server.stderr().match(/link=(\S+\/admin\/setup\?token=\S+)/);
    if (found) return found[1].replace(/^"|"$/g, '');
    await wait(20);
  }
  throw new Error(`no setup link in the log: ${server.stderr()}`);
}

async function signUp(page, email) {
  await page.goto(`${server.base}/signup`);
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
  await page.waitForURL(/\/account/);
}

// A user who signs in to the application twice and skips the "protect your account" step.
async function skipper(email) {
  const page = await newPage();
  await signUp(page, email);
  await page.context().clearCookies();
  await page.goto(`${app.base}/login`);
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.waitForSelector('#signed-in');
  await page.context().close();
}

test('the first owner opens the console from the setup link and gives a colleague a role', async () => {
  await skipper('sam@example.com');
  const link = await setupLink();
  assert.ok(link.startsWith(`${server.base}/admin/setup?token=`), link);

  const page = await newPage();
  await signUp(page, 'ada@example.com');
  await page.goto(link);
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.match(await page.locator('.console-head').textContent(), /ada@example.com · Owner/);
  // The funnel: the step shown once and skipped, drawn and in the table.
  const row = page.locator('table.figures tbody tr', { hasText: 'protect' });
  assert.match(await row.textContent(), /protect\s*1\s*0\s*1\s*0\s*0%/);
  assert.equal(await page.locator('.chart svg rect.bar-skipped').count(), 1);
  assert.match(await page.locator('[role=status]').textContent(), /protect/);
  await checkPage(page, 'console-overview');

  // The period: the last 7 days, today last with Sam's and Ada's sign-ups; a period backwards
  // is said next to its input.
  await page.getByLabel('Period', { exact: true }).selectOption('7');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/period=7/);
  assert.equal(await page.locator('details.per-day tbody tr').count(), 7);
  await page.locator('details.per-day summary').click();
  const today = page.locator('details.per-day tbody tr').last();
  assert.equal(await today.locator('td').nth(2).textContent(), '2');
  assert.ok((await page.locator('.chart svg rect.bar-signup').count()) >= 1);
  await checkPage(page, 'console-overview-week');
  await page.goto(`${server.base}/admin?period=dates&from=2026-03-12&to=2026-03-01`);
  assert.match(await page.locator('#f-to-error').textContent(), /last day is before the first/);
  assert.equal(await page.locator('#f-to').getAttribute('aria-invalid'), 'true');
  await checkPage(page, 'console-overview-refused');
  await page.goto(`${server.base}/admin`);

  // Bob has an account; Ada makes him a viewer.
  const bobPage = await newPage();
  await signUp(bobPage, 'bob@example.com');
  await page.getByRole('link', { name: 'Administrators' }).click();
  await page.getByLabel('Email').fill('bob@example.com');
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Give the role' }).click();
  assert.match(await page.locator('[role=status]').textContent(), /bob@example.com is now Viewer/);
  await checkPage(page, 'console-admins');

  // Bob's console: he reads, the form is not there.
  await bobPage.goto(`${server.base}/admin/admins`);
  await bobPage.getByRole('heading', { name: 'Administrators' }).waitFor();
  assert.equal(await bobPage.getByRole('button', { name: 'Give the role' }).count(), 0);
  assert.match(await bobPage.locator('main').textContent(), /can read this page but not change it/);
  await checkPage(bobPage, 'console-admins-viewer');

  // Users: Sam found by address; his page says which steps he was asked.
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByLabel('Email address').fill('sam@example.com');
  await page.getByRole('button', { name: 'Search' }).click();
  await checkPage(page, 'console-users');
  await page.getByRole('link', { name: 'sam@example.com' }).click();
  await page.getByRole('heading', { name: 'sam@example.com' }).waitFor();
  assert.match(await page.locator('main').textContent(), /protect/);
  await checkPage(page, 'console-user');

  // The audit log says who did what.
  await page.getByRole('link', { name: 'Audit log' }).click();
  const log = await page.locator('table.audit').textContent();
  assert.match(log, /admin\.granted/);
  assert.match(log, /setup/);
  await checkPage(page, 'console-audit');
  await page.context().close();
  await bobPage.context().close();
});

test('the console speaks French', async () => {
  const page = await newPage({ locale: 'fr-FR' });
  await page.goto(`${server.base}/login`);
  await page.locator('#f-email').fill('ada@example.com');
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
  await page.waitForURL(/\/account/);
  await page.goto(`${server.base}/admin`);
  await page.getByRole('heading', { name: 'Vue d’ensemble' }).waitFor();
  await checkPage(page, 'console-overview-fr');
  await page.context().close();
});

async function signIn(page, email) {
  await page.goto(`${server.base}/login`);
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
}

test('an owner disables an account, its sign-in is refused, and enabling lets it back in', async () => {
  const dee = await newPage();
  await signUp(dee, 'dee@example.com');
  const page = await newPage();
  await signIn(page, 'ada@example.com');
  await page.waitForURL(/\/account/);
  await page.goto(`${server.base}/admin/users?email=dee%40example.com`);
  await page.getByRole('link', { name: 'dee@example.com' }).click();
  await page.getByRole('heading', { name: 'dee@example.com' }).waitFor();
  assert.match(await page.locator('dl.facts').textContent(), /can sign in/);

  // app_metadata: JSON that does not parse is refused on the textarea, with where it breaks.
  await page.getByLabel('app_metadata (JSON)').fill('{\n  "plan": pro\n}');
  await page.getByRole('button', { name: 'Save app_metadata' }).click();
  assert.match(await page.locator('#f-app_metadata-error').textContent(), /line 2, column/);
  assert.equal(await page.getByLabel('app_metadata (JSON)').getAttribute('aria-invalid'), 'true');
  await checkPage(page, 'console-user-metadata-error');
  await page.getByLabel('app_metadata (JSON)').fill('{"plan": "pro"}');
  await page.getByRole('button', { name: 'Save app_metadata' }).click();
  assert.match(await page.locator('[role=status]').textContent(), /app_metadata saved/);

  // Disabling asks for the address first (keyboard only).
  await page.locator('summary', { hasText: 'Disable this account' }).focus();
  await page.keyboard.press('Enter');
  await page.getByLabel('Type dee@example.com to confirm').first().fill('dee@example.com');
  await page.getByRole('button', { name: 'Disable the account' }).click();
  assert.match(await page.locator('[role=status]').textContent(), /The account is disabled/);
  assert.match(await page.locator('h1').textContent(), /disabled/);
  await checkPage(page, 'console-user-disabled');

  // Dee's session ended; signing in again is refused with a sentence, not an error code.
  await dee.goto(`${server.base}/account`);
  await dee.waitForURL(/\/login/);
  await signIn(dee, 'dee@example.com');
  await dee.locator('[role=alert]').waitFor();
  assert.match(await dee.locator('[role=alert]').textContent(), /This account is disabled/);
  await checkPage(dee, 'signin-disabled');

  // Enabled again: Dee signs in.
  await page.getByRole('button', { name: 'Enable the account' }).click();
  assert.match(await page.locator('[role=status]').textContent(), /can sign in again/);
  await signIn(dee, 'dee@example.com');
  await dee.waitForURL(/\/account/);
  await page.getByRole('link', { name: 'Audit log' }).click();
  const log = await page.locator('table.audit').textContent();
  assert.match(log, /user\.disabled/);
  assert.match(log, /user\.enabled/);
  assert.match(log, /user\.app_metadata_changed/);
  await page.context().close();
  await dee.context().close();
});
