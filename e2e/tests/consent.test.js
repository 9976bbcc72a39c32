// A consent field with the address of its text: the prompt page links the text beside the
// checkbox (a new tab, without access to the page that opened it), in English and in French,
// and the account page shows the version and date accepted with the same link.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { launch, checkPage } from '../lib/browser.js';

const SCOPES = ['openid', 'profile', 'email'];
const PASSWORD = 'correct horse battery';
const TEXT = 'https://example.com/terms/2026-01';
let server, shop, browser;

before(async () => {
  server = await startServer({ policy: resolve(import.meta.dirname, '..', 'policies', 'consent.toml') });
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

// A page in a browser of its own speaking `locale`; the text's address answers with a page of
// its own (the machine may be offline).
async function newPage(locale) {
  const context = await browser.newContext({ bypassCSP: true, locale });
  await context.route(`${TEXT}*`, (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Terms</title><h1>Terms of service</h1>' }),
  );
  return context.newPage();
}

// Signs up outside any application, then enters the shop: the terms are asked at that sign-in.
async function toTheTerms(page, email, name) {
  await page.goto(`${server.base}/signup`);
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-given_name').fill(name);
  await page.locator('button[value=submit]').click();
  await page.waitForURL((url) => url.pathname === '/account');
  await page.goto(`${shop.base}/login`);
  await page.waitForURL((url) => url.pathname === '/prompt');
}

// Whether two elements share a line: their boxes overlap vertically.
async function onOneLine(a, b) {
  const [x, y] = [await a.boundingBox(), await b.boundingBox()];
  return x.y < y.y + y.height && y.y < x.y + x.height;
}

// Whether `b` comes after `a` in the text beside a checkbox: on its line, or below it starting
// where it starts (not under the checkbox).
async function follows(a, b) {
  const [x, y] = [await a.boundingBox(), await b.boundingBox()];
  return (await onOneLine(a, b)) ? y.x >= x.x + x.width : y.y >= x.y + x.height - 1 && Math.abs(y.x - x.x) < 1;
}

for (const [locale, suffix, label, read, accepted] of [
  ['en-GB', '', 'I accept the terms of service', 'Read the text', /Accepted on .* \(version 2026-01\)/],
  ['fr-FR', '-fr', 'J’accepte les conditions d’utilisation', 'Lire le texte', /Accepté le .* \(version 2026-01\)/],
]) {
  test(`the prompt links the text of the terms beside their checkbox (${locale})`, async () => {
    const page = await newPage(locale);
    await toTheTerms(page, `ann${suffix}@example.com`, 'Ann');
    const link = page.getByRole('link', { name: read });
    assert.equal(await link.getAttribute('href'), TEXT);
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.equal(await link.getAttribute('rel'), 'noopener');
    assert.ok(await onOneLine(page.locator('#f-terms'), page.locator('label[for=f-terms]')), 'the checkbox is beside its label');
    assert.ok(await follows(page.locator('label[for=f-terms]'), link), 'the link follows the label, in its column');
    await checkPage(page, `prompt-consent${suffix}`);

    const [tab] = await Promise.all([page.context().waitForEvent('page'), link.click()]);
    await tab.waitForLoadState();
    assert.equal(tab.url(), TEXT);
    assert.equal(await tab.evaluate(() => window.opener), null, 'the text cannot reach the form');
    await tab.close();

    await page.getByLabel(label).check();
    await page.locator('form button[value=submit]').click();
    await page.waitForSelector('#signed-in');

    await page.goto(`${server.base}/account`);
    const shown = page.locator('dd', { hasText: '2026-01' });
    assert.match(await shown.textContent(), accepted);
    assert.equal(await shown.getByRole('link', { name: read }).getAttribute('href'), TEXT);
    await checkPage(page, `account-consent${suffix}`);
    await page.context().close();
  });
}
