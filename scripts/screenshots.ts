// `npm run screenshots`: the README's pictures of the dashboard, made the way a user would see it.
// Thirty days of self-signed postbacks (a key of its own in SKANPOST_EXTRA_KEYS) are imported into a
// scratch database with `skanpost import`, `npm start` serves it on a free port, and Debian's
// Chromium (playwright-core) signs in and photographs the overview and one campaign's page into
// docs/images/. Nothing else is written.
import 'reflect-metadata';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/node/cli.js';
import { launchChromium } from '../test/support/browser.js';
import { SIGNED } from '../test/support/skan-recipes.js';
import { startServer } from '../test/support/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const ADMIN = 'screenshots-admin-key-0123456789';
const APP = 525463029;
const NETWORK = 'example123.skadnetwork';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const spki = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');

// Deterministic, so the pictures change only when the dashboard does.
let seed = 7;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

function postback(at: Date, campaign: string, n: number): string {
  const window = rand() < 0.7 ? 0 : rand() < 0.6 ? 1 : 2;
  const body: Record<string, unknown> = {
    version: '4.0',
    'ad-network-id': NETWORK,
    'source-identifier': `52${campaign}`,
    'app-id': APP,
    'transaction-id': `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    redownload: rand() < 0.05,
    'fidelity-type': 1,
    'did-win': true,
    'postback-sequence-index': window,
  };
  if (window === 0 && rand() < 0.75) body['conversion-value'] = Math.min(63, Math.floor(-Math.log(1 - rand()) * 12));
  else if (rand() < 0.6) body['coarse-conversion-value'] = rand() < 0.6 ? 'low' : rand() < 0.7 ? 'medium' : 'high';
  const message = SIGNED['4.0']!.filter((f) => f in body)
    .map((f) => String(body[f]))
    .join('\u2063');
  body['attribution-signature'] = sign('sha256', Buffer.from(message), { key: privateKey, dsaEncoding: 'der' }).toString('base64');
  return JSON.stringify({ received_at: at.toISOString(), body });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'skanpost-screenshots-'));
  const env = { SKANPOST_DB: join(dir, 'db.sqlite'), SKANPOST_ADMIN_KEY: ADMIN, SKANPOST_EXTRA_KEYS: spki };
  try {
    const lines: string[] = [];
    let n = 0;
    const now = Date.now();
    for (let day = 29; day >= 0; day--) {
      for (const [campaign, weight] of [
        ['39', 60],
        ['17', 35],
        ['05', 15],
      ] as const) {
        // A weekly rhythm, and fewer postbacks for the last days, which are still filling.
        const count = Math.round(weight * (1 + 0.25 * Math.sin(day / 1.1)) * (day < 2 ? 0.4 : 1));
        for (let i = 0; i < count; i++) lines.push(postback(new Date(now - day * 86_400_000 - Math.floor(rand() * 86_400_000 * (day === 0 ? 0.3 : 1))), campaign, ++n));
      }
    }
    writeFileSync(join(dir, 'postbacks.ndjson'), `${lines.join('\n')}\n`);
    const io = { stdout: () => {}, stderr: (t: string) => process.stderr.write(`${t}\n`), stdin: () => new Uint8Array(), env: { ...process.env, ...env } };
    if ((await runCli(['import', join(dir, 'postbacks.ndjson')], io)) !== 0) throw new Error('the import failed');
    const server = await startServer(env, { viaNpm: true });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 });
      await page.goto(`${server.url}/dashboard/sign-in`);
      await page.getByLabel('API key').fill(ADMIN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const images = join(root, 'docs/images');
      mkdirSync(images, { recursive: true });
      await page.goto(`${server.url}/dashboard?days=30`);
      await page.waitForSelector('[data-ready="true"]');
      await page.screenshot({ path: join(images, 'overview.png') });
      await page.goto(`${server.url}/dashboard/campaigns/${NETWORK}/${APP}/39?days=30`);
      await page.waitForSelector('[data-ready="true"]');
      await page.screenshot({ path: join(images, 'campaign.png') });
      console.log(`wrote ${join(images, 'overview.png')} and campaign.png from ${lines.length} postbacks`);
    } finally {
      await browser.close();
      await server.killAll();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
