// Account recovery and verified email as people live them, with every mail read from a real SMTP
// server (scripts/smtp-sink): a forgotten password reset from the sign-in page, a client that
// requires a confirmed address, an address changed from the account center, and the same pages in
// French.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { startSmtpSink } from '../lib/smtp.js';
import { launch, checkPage } from '../lib/browser.js';

const SCOPES = ['openid', 'profile', 'email'];
const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'purple elephant marmalade';
let sink, server, shop, bank, browser;

before(async () => {
  sink = await startSmtpSink();
  server = await startServer({ env: { ACCRETE_EMAIL__SMTP_URL: sink.url } });
  shop = await startRelyingParty({
    issuer: server.base,
    register: (redirectUri) => createClient(server, { id: 'shop', name: 'Shop', redirectUri, scopes: SCOPES }),
    scope: SCOPES.join(' '),
  });
  bank = await startRelyingParty({
    issuer: server.base,
    register: (redirectUri) => {
      const registered = createClient(server, { id: 'bank', name: 'Bank', redirectUri, scopes: SCOPES });
      // Before the server ever reads the client, so no cached copy predates the setting.
      server.admin('client', 'update', 'bank', '--email-verification', 'required');
      return registered;
    },
    scope: SCOPES.join(' '),
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await bank?.stop();
  await shop?.stop();
  await server?.stop();
  await sink?.stop();
});

async function newPage(locale = 'en-GB') {
  const context = await browser.newContext({ bypassCSP: true, locale });
  return context.newPage();
}

// Signs up through the relying party `rp` (its sign-in page, then "Create an account"), in
// English. Leaves the page wherever the server sends it after the form.
async function signUpThrough(page, rp, email, password = PASSWORD) {
  await page.goto(`${rp.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.waitForURL(/\/signup/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
}

// Signs in through `rp` and waits for the relying party's page.
async function signInThrough(page, rp, email, password) {
  await page.goto(`${rp.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#signed-in');
}

// The path and query of the link in `mail` that goes to `path`, on this server.
function linkTo(mail, path) {
  const link = mail.links.find((l) => new URL(l).pathname === path);
  assert.ok(link, `a link to ${path} in: ${mail.text}`);
  const url = new URL(link);
  assert.equal(url.origin, server.base, 'the link goes to this server');
  return link;
}

test('a forgotten password is reset from the sign-in page; every other session ends', async () => {
  const email = 'grace@example.com';
  // Grace signs up through the shop, and is also signed in on her laptop.
  const phone = await newPage();
  await signUpThrough(phone, shop, email);
  await phone.waitForSelector('#signed-in');
  const welcome = await sink.nextMail({ to: email });
  assert.match(welcome.subject, /Confirm/);
  const laptop = await newPage();
  await signInThrough(laptop, shop, email, PASSWORD);
  // The link of that mail confirms the address, on any browser.
  await laptop.goto(linkTo(welcome, '/verify-email'));
  await laptop.getByRole('heading', { name: 'Email address confirmed' }).waitFor();
  assert.match(await laptop.getByRole('status').textContent(), /grace@example\.com is confirmed/);
  await checkPage(laptop, 'verify-email-link');
  await laptop.goto(`${server.base}/account`);
  await laptop.waitForURL((url) => url.pathname === '/account');

  // On a third browser, she forgot it.
  const page = await newPage();
  await page.goto(`${shop.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.waitForURL((url) => url.pathname === '/forgot-password');
  assert.match(page.url(), /[?&]tx=/, 'the application she came from is kept');
  await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
  await checkPage(page, 'forgot-password');
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  const status = page.getByRole('status');
  await status.waitFor();
  assert.match(await status.textContent(), /If an account uses grace@example\.com, a link to reset its password is on its way/);
  await checkPage(page, 'forgot-password-sent');

  const mail = await sink.nextMail({ to: email });
  assert.match(mail.subject, /password/i);
  const link = linkTo(mail, '/reset-password');
  await page.goto(link);
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  assert.match(await page.textContent('.lead'), /grace@example\.com/);
  await checkPage(page, 'reset-password');
  // Two different passwords are refused, and said so.
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('New password again').fill('something else entirely');
  await page.getByRole('button', { name: 'Save the new password' }).click();
  await page.locator('#f-confirm-error, #form-alert').first().waitFor();
  assert.match(await page.locator('main').textContent(), /The two passwords are different/);
  await checkPage(page, 'reset-password-mismatch');
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('New password again').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Save the new password' }).click();
  await page.getByText('signed out everywhere').waitFor();
  await page.getByRole('heading', { name: 'Password changed' }).waitFor();
  await checkPage(page, 'reset-password-done');
  const notice = await sink.nextMail({ to: email });
  assert.match(notice.text, /password/i);
  assert.equal(notice.code, undefined, 'the notice carries no code');

  // The laptop's session is gone: the account center asks to sign in.
  await laptop.goto(`${server.base}/account`);
  await laptop.waitForURL((url) => url.pathname === '/login');
  await laptop.getByLabel('Password', { exact: true }).waitFor();

  // The old password no longer works; the new one goes on to the shop.
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#form-alert');
  assert.match(await page.textContent('#form-alert'), /incorrect/);
  const before = shop.results.length;
  await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#signed-in');
  assert.equal(shop.results.length, before + 1);
  assert.equal(shop.lastClaims().email, email);

  // The link worked once.
  await page.goto(link);
  assert.match(await page.getByRole('alert').textContent(), /no longer works/);
  assert.equal(sink.pending(), 0, 'no other mail was sent');
  for (const p of [phone, laptop, page]) await p.context().close();
});

test('a client that requires a confirmed address puts the code from the mail before the application', async () => {
  const email = 'ada@bank.example';
  const page = await newPage();
  await signUpThrough(page, bank, email);
  await page.waitForURL((url) => url.pathname === '/verify-email');
  await page.getByRole('heading', { name: 'Confirm your email address' }).waitFor();
  assert.match(await page.textContent('.lead'), /Bank needs a confirmed email address/);
  assert.match(await page.textContent('#f-code-help'), /ada@bank\.example/);
  await checkPage(page, 'verify-email');
  await page.setViewportSize({ width: 390, height: 844 });
  await checkPage(page, 'verify-email-phone');
  await page.setViewportSize({ width: 1280, height: 720 });

  const mail = await sink.nextMail({ to: email });
  assert.match(mail.code, /^\d{6}$/);
  assert.ok(mail.html.includes(mail.code), 'the code is in the HTML part too');
  // A wrong code first: refused, with the tries left.
  const wrong = mail.code === '000000' ? '111111' : '000000';
  await page.getByLabel('Code from the mail').fill(wrong);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.locator('#f-code-error, #form-alert').first().waitFor();
  assert.match(await page.locator('main').textContent(), /not right.*4 more/s);
  await checkPage(page, 'verify-email-wrong');
  const before = bank.results.length;
  await page.getByLabel('Code from the mail').fill(mail.code);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.waitForSelector('#signed-in');
  assert.equal(bank.results.length, before + 1);
  const claims = bank.lastClaims();
  assert.equal(claims.email, email);
  assert.equal(claims.email_verified, true);
  await page.context().close();
});

test('a signed-in person moves the account to another address; the old one is told', async () => {
  const [old, next] = ['lin@old.example', 'lin@new.example'];
  const page = await newPage();
  await signUpThrough(page, shop, old);
  await page.waitForSelector('#signed-in');
  await sink.nextMail({ to: old }); // the sign-up's verification mail

  await page.goto(`${server.base}/account/email`);
  await page.getByRole('heading', { name: 'Email address', exact: true }).waitFor();
  assert.match(await page.locator('main').textContent(), /Your address is lin@old\.example\.\s*Not confirmed yet/);
  await checkPage(page, 'account-email');
  // The wrong password first.
  await page.getByLabel('New email address').fill(next);
  await page.getByLabel('Current password').fill('not it at all');
  await page.getByRole('button', { name: 'Send the code' }).click();
  await page.locator('#f-password-error, #form-alert').first().waitFor();
  assert.match(await page.locator('main').textContent(), /not your current password/);
  await checkPage(page, 'account-email-wrong-password');
  await page.getByLabel('New email address').fill(next);
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Send the code' }).click();
  await page.getByRole('heading', { name: 'Confirm the new address' }).waitFor();
  assert.match(await page.textContent('#f-code-help'), /lin@new\.example/);
  await checkPage(page, 'account-email-pending');

  const mail = await sink.nextMail({ to: next });
  assert.match(mail.code, /^\d{6}$/);
  // Nothing changed yet.
  assert.match(await page.locator('main').textContent(), /Your address is lin@old\.example/);
  await page.getByLabel('Code from the mail').fill(mail.code);
  await page.getByRole('button', { name: 'Confirm', exact: true }).click();
  await page.getByText('Your email address is changed.').waitFor();
  assert.match(await page.locator('main').textContent(), /Your address is lin@new\.example\.\s*Confirmed/);
  await checkPage(page, 'account-email-changed');
  await page.setViewportSize({ width: 390, height: 844 });
  await checkPage(page, 'account-email-changed-phone');

  const told = await sink.nextMail({ to: old });
  assert.match(told.text, /lin@new\.example/);
  // The new address signs in to the shop, verified.
  const other = await newPage();
  await signInThrough(other, shop, next, PASSWORD);
  assert.equal(shop.lastClaims().email, next);
  assert.equal(shop.lastClaims().email_verified, true);
  assert.equal(sink.pending(), 0, 'no other mail was sent');
  await page.context().close();
  await other.context().close();
});

test('the forgot-password and verification pages speak French', async () => {
  const page = await newPage('fr-FR');
  await page.goto(`${server.base}/forgot-password`);
  await page.getByRole('heading', { name: 'Réinitialiser votre mot de passe' }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'fr');
  assert.match(await page.textContent('.lead'), /Nous vous enverrons un lien/);
  await checkPage(page, 'forgot-password-fr');
  await page.context().close();

  // ui_locales=fr from the bank, in a browser that asks for English.
  const fr = await newPage('en-GB');
  const email = 'zoe@bank.example';
  await fr.goto(`${bank.base}/login?ui_locales=fr`);
  await fr.waitForURL(/\/login\?tx=/);
  await fr.locator('a[href^="/signup"]').click();
  await fr.waitForURL(/\/signup/);
  await fr.locator('#f-email').fill(email);
  await fr.locator('#f-password').fill(PASSWORD);
  await fr.locator('form button[type=submit]').click();
  await fr.waitForURL((url) => url.pathname === '/verify-email');
  await fr.getByRole('heading', { name: 'Confirmer votre adresse e-mail' }).waitFor();
  assert.match(await fr.textContent('.lead'), /Bank demande une adresse e-mail confirmée/);
  assert.match(await fr.textContent('#f-code-help'), /Nous avons envoyé un code à 6 chiffres à zoe@bank\.example/);
  await checkPage(fr, 'verify-email-fr');
  await fr.setViewportSize({ width: 390, height: 844 });
  await checkPage(fr, 'verify-email-fr-phone');
  const mail = await sink.nextMail({ to: email });
  assert.equal(mail.language, 'fr', `the mail is in the language of the page (subject: ${mail.subject})`);
  await fr.getByLabel('Code reçu par e-mail').fill(mail.code);
  await fr.getByRole('button', { name: 'Confirmer', exact: true }).click();
  await fr.waitForSelector('#signed-in');
  assert.equal(bank.lastClaims().email_verified, true);
  await fr.context().close();
});
