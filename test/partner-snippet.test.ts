// The partner-side verification snippet in docs/forwarding.md works against what the sender signs.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { signatureHeader } from '../src/forward/request.js';

type Verify = (rawBody: Buffer, header: string | undefined, secret: string, toleranceSeconds?: number) => boolean;

function snippet(): Verify {
  const readme = readFileSync(new URL('../docs/forwarding.md', import.meta.url), 'utf8');
  const code = /```js\n([\s\S]*?function verifySkanpost[\s\S]*?)```/.exec(readme)?.[1];
  if (!code) throw new Error('docs/forwarding.md has no verifySkanpost snippet');
  const body = code.replace(/^import .*$/m, '');
  return new Function('createHmac', 'timingSafeEqual', 'Buffer', `${body}\nreturn verifySkanpost;`)(createHmac, timingSafeEqual, Buffer) as Verify;
}

it('verifies a genuine signature and refuses an altered body, a wrong secret or a stale time', async () => {
  const verify = snippet();
  const body = '{"ad-network-id":"example123.skadnetwork","conversion-value":12}';
  const now = Math.floor(Date.now() / 1000);
  const header = await signatureHeader('partner-shared-secret-123', body, now);
  expect(verify(Buffer.from(body), header, 'partner-shared-secret-123')).toBe(true);
  expect(verify(Buffer.from(body.replace('12', '13')), header, 'partner-shared-secret-123')).toBe(false);
  expect(verify(Buffer.from(body), header, 'another-secret-entirely')).toBe(false);
  expect(verify(Buffer.from(body), await signatureHeader('partner-shared-secret-123', body, now - 3600), 'partner-shared-secret-123')).toBe(false);
  expect(verify(Buffer.from(body), undefined, 'partner-shared-secret-123')).toBe(false);
  expect(verify(Buffer.from(''), await signatureHeader('partner-shared-secret-123', '', now), 'partner-shared-secret-123')).toBe(true);
});
