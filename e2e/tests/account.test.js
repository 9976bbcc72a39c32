// The account center as a person uses it, with the example policy: the sections and their
// navigation, changing the password, signing out everywhere else, downloading one's data and
// deleting the account; each page checked with axe-core, one in French and one on a phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startServer } from '../lib/server.js';
import { launch, checkPage } from '../lib/browser.js';

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'velvet lantern orbit cactus';
const EMAIL = 'ada@example.com';
let server, browser;

before(async () => {
  server = await startServer({ policy: resolve(import.meta.dirname, '..', '..', 'examples', 'policy.toml') });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function newPage(options = {}) {
  const context = await browser.newContext({ bypassCSP: true, locale: 'en-GB', acceptDownloads: true, ...options });
  return context.newPage();
}

async function signIn(page, password) {
  await page.goto(`${server.base}/login`);
  // By the inputs' ids: the page may be in French.
  await page.locator('#f-email').fill(EMAIL);
  await page.locator('#f-password').fill(password);
  await page.locator('#f-password').press('Enter');
  await page.waitForURL((url) => url.pathname === '/account');
}

test('a person goes through every section of the account center', async () => {
  const page = await newPage();
  await page.goto(`${server.base}/signup`);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('First name').fill('Ada');
  await page.getByLabel('Last name').fill('Lovelace');
  await page.getByLabel('I accept the terms of service').check();
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL((url) => url.pathname === '/account');

  // Profile: the current section is marked, values say where they came from.
  const current = page.locator('nav a[aria-current=page]');
  assert.equal(await current.textContent(), 'Profile');
  assert.ok(await page.getByText('You gave this').first().isVisible());
  await checkPage(page, 'account-profile');

  // Security: a wrong current password is reported on its field, then the change succeeds.
  await page.getByRole('link', { name: 'Security' }).click();
  await page.waitForURL(/\/account\/security$/);
  await checkPage(page, 'account-security');
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('New password again').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.waitForSelector('#f-current_password-error');
  await checkPage(page, 'account-security-error');
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('New password again').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.waitForSelector('.notice');
  assert.match(await page.textContent('.notice'), /password is changed/);

  // Another browser signs in with the new password (in French, on a phone).
  const phone = await newPage({ locale: 'fr-FR', viewport: { width: 390, height: 844 } });
  await signIn(phone, NEW_PASSWORD);
  await checkPage(phone, 'account-profile-fr-phone');
  await phone.goto(`${server.base}/account/sessions`);
  await checkPage(phone, 'account-sessions-fr-phone');

  // Sessions: two, this one marked; sign out everywhere else.
  await page.getByRole('link', { name: 'Sessions and apps' }).click();
  await page.waitForURL(/\/account\/sessions$/);
  assert.equal(await page.locator('.rows li').count(), 2);
  assert.equal(await page.getByText('This device').count(), 1);
  await checkPage(page, 'account-sessions');
  await page.getByRole('button', { name: 'Sign out everywhere else' }).click();
  await page.waitForSelector('.notice');
  await phone.goto(`${server.base}/account/security`);
  await phone.waitForURL((url) => url.pathname === '/login');

  // Your data: the download is one JSON document about this account.
  await page.getByRole('link', { name: 'Your data' }).click();
  await page.waitForURL(/\/account\/data$/);
  await checkPage(page, 'account-data');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download your data' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'accrete-data.json');
  const document = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(document.account.email, EMAIL);
  assert.equal(document.profile.given_name, 'Ada');

  // Delete the account, confirmed with the password.
  await page.getByLabel('Enter your password to confirm').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await page.getByRole('heading', { name: 'Account deleted' }).waitFor();
  await checkPage(page, 'account-deleted');
  await page.goto(`${server.base}/account`);
  await page.waitForURL((url) => url.pathname === '/login');
});
