// Verified phone numbers as people live them (docs/phone.md), with every text message read from a
// real relay (lib/sms.js) that checks its Standard Webhooks signature: a progressive step asks
// the shop's users for their mobile number and proves it with a code (policies/phone.toml); a
// number changed in the account center is verified on /account/phone; the same pages in French
// and on a phone, each checked with axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { startSmsRelay } from '../lib/sms.js';
import { launch, checkPage } from '../lib/browser.js';

const PASSWORD = 'correct horse battery';
const SCOPES = ['openid', 'profile', 'email', 'phone'];
const PHONE = { width: 390, height: 844 };
let relay, server, shop, browser;

before(async () => {
  relay = await startSmsRelay();
  server = await startServer({
    policy: resolve(import.meta.dirname, '..', 'policies', 'phone.toml'),
    env: relay.env(),
  });
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
  await relay?.stop();
});

async function newPage(options = {}) {
  const context = await browser.newContext({ bypassCSP: true, locale: 'en-GB', ...options });
  return context.newPage();
}

// A six-digit code that is not `code`.
const wrong = (code) => (code === '000000' ? '111111' : '000000');

// The message for `to`: a code to verify the number, its text in `locale`, and nothing refused.
async function codeFor(to, locale = 'en') {
  const message = await relay.nextMessage({ to });
  assert.equal(message.type, 'sms');
  assert.equal(message.purpose, 'verify_phone');
  assert.equal(message.locale, locale);
  assert.match(message.code, /^\d{6}$/);
  assert.ok(message.body.includes(message.code), `the code is in the text: ${message.body}`);
  assert.ok(Date.parse(message.expires_at) > Date.now(), `expires later: ${message.expires_at}`);
  assert.deepEqual(relay.refused(), [], 'every message was signed');
  return message;
}

test('a number asked by a prompt is proven with the code sent to it before the shop sees it verified', async () => {
  const email = 'cy@example.com';
  const page = await newPage();
  await page.goto(`${shop.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();

  // The step asks the number.
  await page.waitForURL((url) => url.pathname === '/prompt');
  await page.getByRole('heading', { name: 'Your phone number' }).waitFor();
  await checkPage(page, 'phone-prompt');
  await page.getByLabel('Mobile phone').fill('06 12 34 56 78');
  await page.getByRole('button', { name: 'Continue' }).click();

  // The code stage: a code went to the number, in E.164.
  const code = page.getByLabel('Code from the text message');
  await code.waitFor();
  assert.match(await page.locator('main').textContent(), /To make sure \+33612345678 is yours, enter the code we sent to it/);
  const message = await codeFor('+33612345678');
  assert.match(message.body, /Accrete/);
  assert.equal(shop.results.length, 0, 'no code for the shop yet');
  await checkPage(page, 'phone-prompt-code');
  await page.setViewportSize(PHONE);
  await checkPage(page, 'phone-prompt-code-phone');
  await page.setViewportSize({ width: 1280, height: 720 });

  // A wrong code says how many tries are left; another code cannot be asked at once.
  await code.fill(wrong(message.code));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.locator('#f-code-error').waitFor();
  assert.match(await page.textContent('#f-code-error'), /not right.*4 more/);
  await checkPage(page, 'phone-prompt-code-wrong');
  await page.getByRole('button', { name: 'Send a new code' }).click();
  await page.getByText('A code was sent a moment ago').waitFor();
  assert.equal(relay.pending(), 0, 'no second message');

  await code.fill(message.code);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.waitForSelector('#signed-in');
  const claims = shop.lastClaims();
  assert.equal(claims.email, email);
  assert.equal(claims.phone_number, '+33612345678');
  assert.equal(claims.phone_number_verified, true);

  // The account center says so; the next sign-in to the shop asks nothing.
  await page.goto(`${server.base}/account/security`);
  const section = page.locator('#phone');
  assert.match(await section.textContent(), /\+33612345678/);
  assert.match(await section.locator('.badge.ok').textContent(), /^verified$/i);
  await page.context().close();
  const again = await newPage();
  await again.goto(`${shop.base}/login`);
  await again.getByLabel('Email').fill(email);
  await again.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await again.getByRole('button', { name: 'Sign in' }).click();
  await again.waitForSelector('#signed-in');
  assert.equal(shop.lastClaims().phone_number_verified, true);
  assert.equal(relay.pending(), 0, 'no other message was sent');
  await again.context().close();
});

test('a number changed on the profile page is verified on /account/phone', async () => {
  const email = 'lin@example.com';
  const page = await newPage();
  await page.goto(`${server.base}/signup`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL((url) => url.pathname === '/account');

  await page.getByLabel('Mobile phone').fill('+1 415 555 0100');
  await page.getByRole('button', { name: 'Save' }).click();
  const notice = page.locator('.phone-verify');
  await notice.waitFor();
  assert.match(await notice.textContent(), /Your phone number \+14155550100 is not verified yet/);
  await checkPage(page, 'phone-account-profile');
  await page.setViewportSize(PHONE);
  await checkPage(page, 'phone-account-profile-phone');
  await page.setViewportSize({ width: 1280, height: 720 });
  await notice.getByRole('link', { name: 'Verify the number' }).click();
  await page.waitForURL((url) => url.pathname === '/account/phone');
  await page.getByRole('heading', { name: 'Phone number' }).waitFor();
  assert.match(await page.locator('main').textContent(), /Your number is \+14155550100\.\s*Not verified yet/);
  await checkPage(page, 'account-phone');

  await page.getByRole('button', { name: 'Send a code' }).click();
  await page.getByText('A code is on its way to your phone.').waitFor();
  assert.match(await page.textContent('#f-code-help'), /We sent a 6-digit code to \+14155550100/);
  const message = await codeFor('+14155550100');
  await checkPage(page, 'account-phone-sent');
  await page.setViewportSize(PHONE);
  await checkPage(page, 'account-phone-sent-phone');
  await page.setViewportSize({ width: 1280, height: 720 });

  const code = page.getByLabel('Code from the text message');
  await code.fill(wrong(message.code));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.locator('#f-code-error').waitFor();
  assert.match(await page.textContent('#f-code-error'), /not right.*4 more/);
  await checkPage(page, 'account-phone-wrong');
  await code.fill(message.code);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.waitForURL((url) => url.pathname === '/account/security');
  await page.getByText('Your phone number is verified.').waitFor();
  const section = page.locator('#phone');
  assert.match(await section.textContent(), /\+14155550100/);
  assert.match(await section.locator('.badge.ok').textContent(), /^verified$/i);
  assert.equal(await section.getByRole('link', { name: 'Verify the number' }).count(), 0);
  await checkPage(page, 'phone-account-security-verified');

  // The shop sees it verified, and its step asks nothing.
  const shopPage = await newPage();
  await shopPage.goto(`${shop.base}/login`);
  await shopPage.getByLabel('Email').fill(email);
  await shopPage.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await shopPage.getByRole('button', { name: 'Sign in' }).click();
  await shopPage.waitForSelector('#signed-in');
  assert.equal(shop.lastClaims().phone_number, '+14155550100');
  assert.equal(shop.lastClaims().phone_number_verified, true);
  await shopPage.context().close();

  // Another number is unverified again until its own code.
  await page.goto(`${server.base}/account`);
  await page.getByLabel('Mobile phone').fill('+44 7911 123456');
  await page.getByRole('button', { name: 'Save' }).click();
  await notice.waitFor();
  assert.match(await notice.textContent(), /\+447911123456 is not verified yet/);
  assert.equal(relay.pending(), 0, 'no other message was sent');
  await page.context().close();
});

test('the phone pages speak French', async () => {
  const email = 'zoe@example.com';
  // A browser that asks for French (the account center follows it too).
  const page = await newPage({ locale: 'fr-FR' });
  await page.goto(`${shop.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.locator('a[href^="/signup"]').click();
  await page.waitForURL(/\/signup/);
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('form button[type=submit]').click();
  await page.waitForURL((url) => url.pathname === '/prompt');
  await page.getByRole('heading', { name: 'Votre numéro de téléphone' }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'fr');
  await page.getByLabel('Téléphone portable').fill('06 98 76 54 32');
  await page.getByRole('button', { name: 'Continuer' }).click();
  const code = page.getByLabel('Code reçu par SMS');
  await code.waitFor();
  assert.match(await page.locator('main').textContent(), /Pour vérifier que le \+33698765432 est bien le vôtre/);
  const message = await codeFor('+33698765432', 'fr');
  assert.match(message.body, new RegExp(message.code));
  assert.doesNotMatch(message.body, /is your|valid for/, `in French: ${message.body}`);
  await checkPage(page, 'phone-prompt-code-fr');
  await page.setViewportSize(PHONE);
  await checkPage(page, 'phone-prompt-code-fr-phone');
  await code.fill(message.code);
  await page.getByRole('button', { name: 'Confirmer' }).click();
  await page.waitForSelector('#signed-in');
  assert.equal(shop.lastClaims().phone_number_verified, true);

  // The account page of the number, in French.
  await page.goto(`${server.base}/account/phone`);
  await page.getByRole('heading', { name: 'Numéro de téléphone' }).waitFor();
  assert.match(await page.locator('main').textContent(), /Votre numéro est le \+33698765432\.\s*Vérifié/);
  await checkPage(page, 'account-phone-fr-phone');
  assert.equal(relay.pending(), 0, 'no other message was sent');
  await page.context().close();
});
