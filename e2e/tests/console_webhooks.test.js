// The console's webhooks as an administrator meets them (docs/webhooks.md): an endpoint added
// with its secret shown once and a verification snippet, pointing at a real HTTP receiver
// started here; a new user's `user.created` reaches it and is verified with the `standardwebhooks`
// npm package (an implementation of Standard Webhooks independent of Accrete's); the endpoint's
// page with the delivery and its attempt, a refused time range said on its input, the French
// page, and the confirmations of rotating the secret and deleting; axe-core and a screenshot of
// each page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { setTimeout as wait } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { startServer } from '../lib/server.js';
import { launch, checkPage } from '../lib/browser.js';
import { newPage, signUp } from '../lib/console.js';

let server, browser, receiver;
const received = [];

before(async () => {
  receiver = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(204).end();
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  server = await startServer({
    env: { ACCRETE_WEBHOOKS__ALLOW_PRIVATE: 'true', ACCRETE_WEBHOOKS__ALLOW_HTTP: 'true' },
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => receiver.close(r));
});

// The first request received (after the first `skip` ones) whose body satisfies `wanted`,
// within ten seconds.
async function delivery(wanted, skip = 0) {
  for (let i = 0; i < 500; i += 1) {
    const found = received.slice(skip).find((r) => wanted(r.body));
    if (found) return found;
    await wait(20);
  }
  throw new Error(`no such delivery; received ${received.length}`);
}

test('an administrator adds an endpoint and a new user reaches it, signed as Standard Webhooks says', async () => {
  const page = await newPage(browser, { bypassCSP: true });
  await signUp(server, page, 'ada@example.com');
  server.admin('admin', 'create', 'ada@example.com');
  const url = `http://127.0.0.1:${receiver.address().port}/accrete`;

  await page.goto(`${server.base}/admin`);
  await page.getByRole('link', { name: 'Webhooks' }).click();
  await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
  await checkPage(page, 'console-webhooks');

  // A refused URL is said on its input.
  await page.getByLabel('URL').fill('ftp://hooks.example.com');
  await page.getByRole('button', { name: 'Add the endpoint' }).click();
  assert.match(await page.locator('#f-url-error').textContent(), /https:\/\//);
  assert.equal(await page.getByLabel('URL').getAttribute('aria-invalid'), 'true');
  await checkPage(page, 'console-webhooks-error');

  await page.getByLabel('URL').fill(url);
  await page.getByLabel('user.created').check();
  await page.getByLabel('Description (optional)').fill('CRM');
  await page.getByRole('button', { name: 'Add the endpoint' }).click();
  await page.getByRole('heading', { name: 'Endpoint added' }).waitFor();
  const secret = (await page.locator('#webhook-secret').textContent()).trim();
  assert.match(secret, /^whsec_/);
  const snippet = await page.locator('#snippet').textContent();
  assert.match(snippet, /standardwebhooks/);
  assert.ok(!snippet.includes(secret), 'the secret is read from the environment');
  await checkPage(page, 'console-webhook-created');

  // A user signs up; the receiver verifies the delivery with the standardwebhooks package.
  const bob = await newPage(browser);
  await signUp(server, bob, 'bob@example.com');
  const got = await delivery((body) => body.includes('bob@example.com'));
  const event = new Webhook(secret).verify(got.body, {
    'webhook-id': got.headers['webhook-id'],
    'webhook-timestamp': got.headers['webhook-timestamp'],
    'webhook-signature': got.headers['webhook-signature'],
  });
  assert.equal(event.type, 'user.created');
  assert.equal(event.data.user.email, 'bob@example.com');
  assert.throws(() => new Webhook(`whsec_${Buffer.from('another key of 32 bytes, really!').toString('base64')}`)
    .verify(got.body, got.headers), 'another secret does not verify');

  // The endpoint's page: the delivery with its attempt.
  await page.getByRole('link', { name: 'Open the endpoint' }).click();
  for (let i = 0; i < 100 && !(await page.content()).includes('Delivered'); i += 1) {
    await wait(50);
    await page.reload();
  }
  assert.ok(!(await page.content()).includes(secret), 'shown once');
  const row = page.locator('tbody tr').first();
  assert.match(await row.textContent(), /user\.created/);
  assert.match(await row.textContent(), /HTTP 204/);
  assert.match(await row.textContent(), new RegExp(got.headers['webhook-id']));
  await checkPage(page, 'console-webhook');

  // A time range the server refuses, said on its input.
  await page.getByLabel('From (UTC)').fill('2026-01-02T00:00');
  await page.getByLabel('To (UTC)').fill('2026-01-01T00:00');
  await page.getByRole('button', { name: 'Send them again' }).click();
  assert.match(await page.locator('#f-to-error').textContent(), /after its start/);
  await checkPage(page, 'console-webhook-range-error');

  // One delivery sent again: the same message id.
  const before = received.length;
  await page.getByRole('button', { name: /^Send again: the event msg_/ }).first().click();
  await page.locator('[role=status]', { hasText: 'sent again in a moment' }).waitFor();
  const again = await delivery((body) => body.includes('bob@example.com'), before);
  assert.equal(again.headers['webhook-id'], got.headers['webhook-id']);

  // In French.
  const fr = await newPage(browser, { locale: 'fr-FR', bypassCSP: true });
  await fr.context().addCookies(await page.context().cookies());
  await fr.goto(page.url().replace(/\/deliveries\/.*$/, ''));
  await fr.getByRole('heading', { name: 'Livraisons' }).waitFor();
  assert.match(await fr.content(), /Livrée/);
  await checkPage(fr, 'console-webhook-fr');

  // Rotating and deleting are confirmed first (the sign-in is recent).
  await page.getByRole('link', { name: 'Rotate the secret' }).click();
  await page.getByRole('heading', { name: 'Rotate the signing secret' }).waitFor();
  await checkPage(page, 'console-webhook-rotate');
  await page.getByRole('button', { name: 'Rotate the secret' }).click();
  await page.getByRole('heading', { name: 'New signing secret' }).waitFor();
  assert.notEqual((await page.locator('#webhook-secret').textContent()).trim(), secret);
  await page.getByRole('link', { name: 'Open the endpoint' }).click();
  await page.getByRole('link', { name: 'Delete the endpoint' }).click();
  await page.getByRole('heading', { name: 'Delete this endpoint' }).waitFor();
  await checkPage(page, 'console-webhook-delete');
  await page.getByRole('button', { name: 'Delete' }).click();
  assert.match(await page.locator('[role=status]').textContent(), /were deleted/);
  await page.context().close();
});
