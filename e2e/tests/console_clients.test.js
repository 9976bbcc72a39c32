// The console's applications as an owner meets them (docs/console.md): the wizard's two steps
// (the kind, then its few fields, an error placed on its input), the secret shown once with a
// snippet for that kind, the application's page with its theme inputs and preview, and the
// confirmation before rotating its secret; axe-core and a screenshot of each page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.js';
import { launch, checkPage } from '../lib/browser.js';

const PASSWORD = 'correct horse battery';
let server, browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('an owner creates a web application through the wizard and sees its secret once', async () => {
  const context = await browser.newContext({ bypassCSP: true, locale: 'en-GB' });
  const page = await context.newPage();
  await page.goto(`${server.base}/signup`);
  await page.locator('#f-email').fill('ada@example.com');
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
  await page.waitForURL(/\/account/);
  server.admin('admin', 'create', 'ada@example.com');

  await page.goto(`${server.base}/admin`);
  await page.getByRole('link', { name: 'Applications' }).click();
  await page.getByRole('heading', { name: 'Applications' }).waitFor();
  assert.match(await page.locator('table.figures').textContent(), /accrete-console/);
  await checkPage(page, 'console-clients');

  // Step 1: the kind.
  await page.getByRole('link', { name: 'New application' }).click();
  await page.getByLabel(/^Web application/).check();
  await checkPage(page, 'console-client-kind');
  await page.getByRole('button', { name: 'Continue' }).click();

  // Step 2: its fields; a redirect URI the server refuses is said next to its input.
  await page.getByLabel('Name').fill('Shop');
  await page.getByLabel('Redirect URIs').fill('https://shop.example/callback\nhttp://shop.example/callback');
  await page.getByLabel('client_id (optional)').fill('shop');
  await page.getByRole('button', { name: 'Create the application' }).click();
  const error = page.locator('#f-redirect_uris-error');
  assert.match(await error.textContent(), /^Line 2: /);
  assert.equal(await page.getByLabel('Redirect URIs').getAttribute('aria-invalid'), 'true');
  await checkPage(page, 'console-client-new-error');
  // An international host name is asked for in the form browsers send.
  await page.getByLabel('Redirect URIs').fill('https://shop.example/callback\nhttps://bücher.example/callback');
  await page.getByRole('button', { name: 'Create the application' }).click();
  assert.match(await page.locator('#f-redirect_uris-error').textContent(), /^Line 2: .*xn--/);
  await checkPage(page, 'console-client-new-international-host');
  await page.getByLabel('Redirect URIs').fill('https://shop.example/callback');
  await page.getByRole('button', { name: 'Create the application' }).click();

  // The secret, once, and a snippet for Node's openid-client with the real values.
  await page.getByRole('heading', { name: 'Shop is ready' }).waitFor();
  const secret = (await page.locator('#client-secret').textContent()).trim();
  assert.ok(secret.length > 20, secret);
  assert.match(await page.locator('.secret-once').textContent(), /shown only this once/);
  const snippet = await page.locator('#snippet').textContent();
  assert.match(snippet, /openid-client/);
  assert.ok(snippet.includes(`new URL('${server.base}')`), snippet);
  assert.ok(snippet.includes("'shop'") && snippet.includes('https://shop.example/callback'), snippet);
  assert.ok(!snippet.includes(secret), 'the secret is read from the environment');
  await checkPage(page, 'console-client-created');

  // Its page: the settings, the theme inputs beside the preview; the secret is not there.
  await page.getByRole('link', { name: 'Open its settings' }).click();
  await page.getByRole('heading', { name: 'Shop', exact: true }).waitFor();
  assert.ok(!(await page.content()).includes(secret));
  assert.equal(await page.locator('iframe.preview[data-preview-form="client-form"]').count(), 1);
  await page.getByLabel('Main colour', { exact: true }).fill('#zz');
  await page.getByRole('button', { name: 'Save' }).click();
  assert.match(await page.locator('#f-theme\\.primary-error').textContent(), /#rgb or #rrggbb/);
  await page.getByLabel('Main colour', { exact: true }).fill('#2b6cb0');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('[role=status]', { hasText: 'Saved.' }).waitFor();
  await checkPage(page, 'console-client');

  // Rotating the secret is confirmed first (the sign-in is recent: no new sign-in asked).
  await page.getByRole('link', { name: 'Rotate the secret…' }).click();
  await page.getByRole('heading', { name: 'Rotate the secret of Shop?' }).waitFor();
  await checkPage(page, 'console-client-rotate');
  await page.getByRole('button', { name: 'Rotate the secret' }).click();
  await page.getByRole('heading', { name: 'The new secret of Shop' }).waitFor();
  const rotated = (await page.locator('#client-secret').textContent()).trim();
  assert.notEqual(rotated, secret);

  // Deleting asks for the client_id.
  await page.goto(`${server.base}/admin/clients/shop/delete`);
  await page.getByLabel('Type shop to confirm').fill('shop');
  await checkPage(page, 'console-client-delete');
  await page.getByRole('button', { name: 'Delete the application' }).click();
  assert.match(await page.locator('[role=status]').textContent(), /shop was deleted/);
  await context.close();
});
