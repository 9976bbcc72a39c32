// Sign-up and sign-in through a real relying party (openid-client) in a real browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { launch, checkPage } from '../lib/browser.js';

let server, rp, browser;

before(async () => {
  server = await startServer();
  rp = await startRelyingParty({
    issuer: server.base,
    register: (redirectUri) => createClient(server, { name: 'Demo app', redirectUri, scopes: ['openid', 'profile', 'email', 'phone'] }),
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await rp?.stop();
  await server?.stop();
});

test('a new user signs up from the application and comes back signed in', async () => {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${rp.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await checkPage(page, 'signin');
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.waitForURL(/\/signup/);
  await checkPage(page, 'signup');
  await page.getByLabel('Email').fill('ann@example.com');
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForSelector('#signed-in');
  const claims = rp.lastClaims();
  assert.equal(claims.email, 'ann@example.com');
  assert.equal(claims.iss, server.base);
  await context.close();
});

test('a wrong password is reported next to the form and the email is kept', async () => {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${rp.base}/login`);
  await page.getByLabel('Email').fill('ann@example.com');
  await page.getByLabel('Password', { exact: true }).fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#form-alert');
  assert.match(await page.textContent('#form-alert'), /incorrect/);
  assert.equal(await page.getByLabel('Email').inputValue(), 'ann@example.com');
  await checkPage(page, 'signin-error');
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#signed-in');
  assert.equal(rp.lastClaims().email, 'ann@example.com');
  await context.close();
});
