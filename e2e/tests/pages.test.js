// The hosted pages as people see them, with the example policy: checkboxes beside their labels,
// who is signed in on a prompt and the ways out of it, the home page, plain error pages, and
// the note that asks for the password again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { launch, checkPage } from '../lib/browser.js';

const SCOPES = ['openid', 'profile', 'email', 'phone'];
const PASSWORD = 'correct horse battery';
let server, shop, browser;

before(async () => {
  server = await startServer({ policy: resolve(import.meta.dirname, '..', '..', 'examples', 'policy.toml') });
  shop = await startRelyingParty({
    issuer: server.base,
    register: (redirectUri) => createClient(server, { id: 'shop', name: 'Shop', redirectUri, scopes: SCOPES }),
    scope: SCOPES.join(' '),
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await shop?.stop();
  await server?.stop();
});

async function newPage(locale = 'en-GB') {
  const context = await browser.newContext({ bypassCSP: true, locale });
  return context.newPage();
}

// Whether two elements share a line: their boxes overlap vertically.
async function onOneLine(a, b) {
  const [x, y] = [await a.boundingBox(), await b.boundingBox()];
  return x.y < y.y + y.height && y.y < x.y + x.height;
}

// Signs up outside any transaction (names and terms on the sign-up page).
async function signUp(page, email) {
  await page.goto(`${server.base}/signup`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('First name').fill('Ada');
  await page.getByLabel('Last name').fill('Lovelace');
  await page.getByLabel('I accept the terms of service').check();
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL((url) => url.pathname === '/account');
}

test('a checkbox sits on the line of its label, and a refused sign-up asks for the password again', async () => {
  const page = await newPage();
  await page.goto(`${server.base}/signup`);
  const terms = page.locator('#f-terms');
  assert.ok(await onOneLine(terms, page.locator('label[for=f-terms]')), 'the consent checkbox is beside its label');
  await page.getByLabel('Email').fill('not an email');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForSelector('#form-alert');
  assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '');
  assert.match(await page.textContent('#f-password-note'), /enter your password again/);
  await checkPage(page, 'signup-error-password-note');
  await page.context().close();
});

test('a required prompt names the account, and cancel goes back to the application with access_denied', async () => {
  const page = await newPage();
  await signUp(page, 'cy@example.com');
  await page.goto(`${shop.base}/login`);
  await page.waitForURL((url) => url.pathname === '/prompt');
  assert.match(await page.textContent('.identity'), /Signed in as cy@example\.com/);
  await checkPage(page, 'prompt-identity-cancel');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.waitForSelector('#error');
  assert.equal(await page.textContent('#error'), 'access_denied');
  await page.context().close();
});

test('"Not you?" signs out and the same sign-in goes on with another account', async () => {
  const page = await newPage();
  await signUp(page, 'dan@example.com');
  await page.goto(`${shop.base}/login`);
  await page.waitForURL((url) => url.pathname === '/prompt');
  await page.getByRole('button', { name: 'Not you? Use another account' }).click();
  await page.waitForURL(/\/login\?tx=/);
  await checkPage(page, 'signin-after-not-you');
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill('eve@example.com');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('First name').fill('Eve');
  await page.getByLabel('Last name').fill('Lee');
  await page.getByLabel('I accept the terms of service').check();
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL((url) => url.pathname === '/prompt');
  assert.match(await page.textContent('.identity'), /eve@example\.com/);
  await page.getByLabel('Mobile phone').fill('+44 20 7946 0018');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('#signed-in');
  assert.equal(shop.lastClaims().email, 'eve@example.com');
  await page.context().close();
});

test('the home page and an error page speak plainly, in English and in French', async () => {
  for (const [locale, suffix, details] of [['en-GB', '', 'Details for developers'], ['fr-FR', '-fr', 'Détails pour les développeurs']]) {
    const page = await newPage(locale);
    await page.goto(`${server.base}/`);
    await page.locator('a[href="/account"]').waitFor();
    await checkPage(page, `home${suffix}`);
    await page.goto(`${server.base}/authorize?response_type=code&client_id=nope&scope=openid`);
    const alert = await page.textContent('[role=alert]');
    assert.doesNotMatch(alert, /invalid_request|client_id/);
    await page.getByText(details).click();
    assert.match(await page.textContent('details'), /invalid_request: unknown client_id/);
    await checkPage(page, `error${suffix}`);
    await page.context().close();
  }
});
