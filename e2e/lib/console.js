// What the console's browser tests share: a browser page in a language, signing up on the hosted
// pages, and the setup link the server logs at start (before it serves its first request).
import { setTimeout as wait } from 'node:timers/promises';

export const PASSWORD = 'correct horse battery';

export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ locale: 'en-GB', ...options });
  return context.newPage();
}

export async function signUp(server, page, email) {
  await page.goto(`${server.base}/signup`);
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
  await page.waitForURL(/\/account/);
}

export async function setupLink(server) {
  for (let i = 0; i < 100; i += 1) {
    const found = server.stderr().match(/link=(\S+\/admin\/setup\?token=\S+)/);
    if (found) return found[1].replace(/^"|"$/g, '');
    await wait(20);
  }
  throw new Error(`no setup link in the log: ${server.stderr()}`);
}
