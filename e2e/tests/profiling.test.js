// The seeds' stories in a real browser: a two-page registration, company and job title on the
// third sign-in, a skippable birthday, the shop application's phone number, and the account page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { launch, checkPage } from '../lib/browser.js';

const SCOPES = ['openid', 'profile', 'email', 'phone', 'work'];
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery';
let server, app, shop, browser, context, page;

before(async () => {
  server = await startServer({ policy: resolve(import.meta.dirname, '..', 'policies', 'stories.toml') });
  const register = (id, name) => (redirectUri) => createClient(server, { id, name, redirectUri, scopes: SCOPES });
  app = await startRelyingParty({ issuer: server.base, register: register('app', 'Main app'), scope: SCOPES.join(' ') });
  shop = await startRelyingParty({ issuer: server.base, register: register('shop', 'Shop'), scope: SCOPES.join(' ') });
  browser = await launch();
  context = await browser.newContext({ bypassCSP: true });
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await shop?.stop();
  await server?.stop();
});

// Signs in with credentials (prompt=login) from the main app; stops on the first profiling page
// or back at the application.
async function signIn() {
  await page.goto(`${app.base}/login?prompt=login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/prompt' || url.pathname === '/callback');
}

const onPrompt = () => new URL(page.url()).pathname === '/prompt';

test('sign-up asks the names, then the country on a second page, and the ID token carries them', async () => {
  await page.goto(`${app.base}/login`);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.waitForURL(/\/signup/);
  // Page 1: credentials and the first sign-up step.
  await checkPage(page, 'signup-step-1');
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('First name').fill('Ada');
  await page.getByLabel('Last name').fill('Lovelace');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByLabel('Country').waitFor();
  assert.match(await page.textContent('body'), /Step 2 of 2/);
  await checkPage(page, 'signup-step-2');
  await page.getByLabel('Country').selectOption('GB');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('#signed-in');
  const claims = app.lastClaims();
  assert.equal(claims.given_name, 'Ada');
  assert.equal(claims.family_name, 'Lovelace');
});

test('the second sign-in offers the optional birthday, which can be skipped', async () => {
  await signIn();
  assert.ok(onPrompt(), 'the birthday step is shown');
  await page.getByLabel('Birthday').waitFor();
  await checkPage(page, 'prompt-birthday');
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.waitForSelector('#signed-in');
});

test('the third sign-in asks company and job title, and the birthday is not asked again yet', async () => {
  await signIn();
  assert.ok(onPrompt());
  await page.getByLabel('Company').fill('Analytical Engines Ltd');
  await page.getByLabel('Job title').fill('Programmer');
  await checkPage(page, 'prompt-work');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('#signed-in');
  assert.equal(app.lastClaims().company, 'Analytical Engines Ltd');
});

test('two sign-ins after the skip the birthday is asked again; after the last skip it stops', async () => {
  await signIn();
  assert.ok(onPrompt(), 'asked again on the fourth sign-in');
  await page.getByLabel('Birthday').waitFor();
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.waitForSelector('#signed-in');
  for (let i = 0; i < 3; i++) {
    await signIn();
    assert.ok(!onPrompt(), 'nothing is asked after the last skip');
    await page.waitForSelector('#signed-in');
  }
});

test('entering the shop asks only the phone number, with no code until it is valid', async () => {
  await page.goto(`${shop.base}/login`);
  await page.waitForURL((url) => url.pathname === '/prompt');
  const before = shop.results.length;
  const inputs = await page.locator('form input:not([type=hidden]), form select, form textarea').count();
  assert.equal(inputs, 1, 'only the phone number');
  await page.getByLabel('Mobile phone').fill('not a phone');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('#f-phone_number-error');
  assert.equal(await page.getByLabel('Mobile phone').inputValue(), 'not a phone', 'the input is kept');
  assert.equal(shop.results.length, before, 'no code was issued');
  await checkPage(page, 'prompt-phone-error');
  assert.equal(await page.getByRole('button', { name: 'Skip for now' }).count(), 0, 'a required step has no skip');
  await page.getByLabel('Mobile phone').fill('+44 20 7946 0018');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('#signed-in');
  assert.equal(shop.lastClaims().phone_number, '+442079460018');
});

test('the account page edits a field and the next ID token carries the new value', async () => {
  await page.goto(`${server.base}/account`);
  await page.getByLabel('Company').waitFor();
  await checkPage(page, 'account');
  await page.getByLabel('Company').fill('Difference Engines plc');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForSelector('[role=status]');
  await page.goto(`${app.base}/login`);
  await page.waitForSelector('#signed-in');
  assert.equal(app.lastClaims().company, 'Difference Engines plc');
});
