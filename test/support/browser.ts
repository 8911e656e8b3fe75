// Debian's Chromium through playwright-core, as the browser tests and the screenshots launch it:
// headless, as root without the sandbox, and with none of Chromium's own network chatter (this
// machine's network is closed; those connections would only fail).
import { type Browser, chromium, type Page } from 'playwright-core';

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: process.env.SKANPOST_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });

/** A page that records console errors, page errors and any request to another origin than `base`'s. */
export async function watchedPage(browser: Browser, base: string, problems: string[]): Promise<Page> {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const origin = new URL(base).origin;
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error on ${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
  page.on('request', (request) => {
    if (new URL(request.url()).origin !== origin) problems.push(`request to another origin: ${request.url()}`);
  });
  return page;
}

/** Signs in at `base` with an API key, as a person would, and waits for the overview. */
export async function signIn(page: Page, base: string, secret: string): Promise<void> {
  await page.goto(base);
  if (new URL(page.url()).pathname !== '/dashboard/sign-in') throw new Error(`expected the sign-in page, got ${page.url()}`);
  await page.getByLabel('API key').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/dashboard$/);
}

export const pageReady = (page: Page) => page.waitForSelector('[data-page][data-ready="true"]', { timeout: 15_000 });
