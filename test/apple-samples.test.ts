// Every Apple-published postback gets its expected verdict, through HTTP and through the CLI.

import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/node/cli.js';
import { AAK_PATH, createTestApp, loadAppleSamples, SKAN_PATH, type TestApp } from './support/app.js';

const samples = await loadAppleSamples();

async function cli(args: string[], stdin = '') {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    stdin: () => new TextEncoder().encode(stdin),
    env: {},
  });
  return { code, out, err };
}

describe('Apple-published postbacks', () => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('has vectors for every verdict the samples can show', () => {
    expect(new Set(samples.map((s) => s.expect))).toEqual(new Set(['verified', 'invalid', 'development']));
  });

  for (const sample of samples) {
    for (const path of [SKAN_PATH, AAK_PATH]) {
      it(`${sample.id} is ${sample.expect} over HTTP at ${path}`, async () => {
        app = await createTestApp(); // several samples share a transaction id: one database each
        const response = await app.post(sample.body, { path });
        expect(response.status).toBe(200);
        const receipt = await response.json();
        expect(receipt).toMatchObject({ outcome: 'stored', signature: sample.expect });
        const [row] = await app.rows();
        expect(row).toMatchObject({ id: receipt.id, signature: sample.expect, body: JSON.stringify(sample.body) });
      });
    }

    it(`${sample.id} is ${sample.expect} with skanpost verify`, async () => {
      const { code, out } = await cli(['verify', '-'], JSON.stringify(sample.body));
      const result = JSON.parse(out);
      expect(result.signature).toBe(sample.expect);
      expect(code).toBe(sample.expect === 'verified' ? 0 : 1);
    });
  }

  it('prints the exact signed message of the 4.0 sample, with U+2063 spelled out', async () => {
    const sample = samples.find((s) => s.id === 'apple-4.0-fine-source-domain')!;
    const { out } = await cli(['verify', '-'], JSON.stringify(sample.body));
    expect(out).toContain(
      '"message": "4.0\\u2063com.example\\u20635239\\u2063525463029\\u20636aafb7a5-0170-41b5-bbe4-fe71dedf1e30\\u2063false\\u2063example.com\\u20631\\u2063true\\u20630"',
    );
    const result = JSON.parse(out);
    expect(Buffer.from(result.message_base64, 'base64').toString('utf8')).toBe(result.message);
    expect(result).toMatchObject({ protocol: 'skan', version: '4.0', key: 'apple-skan-p256' });
  });

  it("verifies Apple's P-192 sample with the pure-JS path used on Workers too", async () => {
    const { createEcdsaVerifier } = await import('../src/postback/ecdsa.js');
    const { buildKeyRing } = await import('../src/postback/keys.js');
    const { readPostback } = await import('../src/postback/read.js');
    const { inspectPostback } = await import('../src/postback/inspect.js');
    const sample = samples.find((s) => s.id === 'apple-2.0-doc-later')!;
    const read = readPostback(new TextEncoder().encode(JSON.stringify(sample.body)));
    if (!read.ok) throw new Error('sample must read');
    const inspection = await inspectPostback(read.postback, { keys: await buildKeyRing(), verifier: createEcdsaVerifier() });
    expect(inspection).toMatchObject({ signature: 'verified', key: 'apple-skan-p192' });
  });

  it('the installed command exits 0 for a verified body, 1 for an invalid one, 2 for a 400 body', () => {
    const run = (body: string) => spawnSync(process.execPath, ['bin/skanpost.mjs', 'verify', '-'], { input: body, encoding: 'utf8', cwd: new URL('..', import.meta.url) });
    const verified = run(JSON.stringify(samples.find((s) => s.expect === 'verified')!.body));
    expect(verified.status, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout).signature).toBe('verified');
    expect(run(JSON.stringify(samples.find((s) => s.expect === 'invalid')!.body)).status).toBe(1);
    expect(run('{"version":"4.0","version":"4.0"}').status).toBe(2);
  });
});
