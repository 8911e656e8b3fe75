import autocannon from 'autocannon';
import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
writeFileSync('/tmp/bdb/key', publicKey.export({ format: 'der', type: 'spki' }).toString('base64'));
const bodies: string[] = [];
for (let i = 0; i < 20000; i++) {
  const body: Record<string, unknown> = { version: '4.0', 'ad-network-id': 'b', 'source-identifier': String(1000 + (i % 9000)), 'app-id': 1000000 + (i % 20), 'transaction-id': `t-${i}`, redownload: false, 'fidelity-type': 1, 'did-win': true, 'postback-sequence-index': 0, 'conversion-value': i % 64 };
  const m = ['version', 'ad-network-id', 'source-identifier', 'app-id', 'transaction-id', 'redownload', 'fidelity-type', 'did-win', 'postback-sequence-index'].map((f) => String(body[f])).join('\u2063');
  body['attribution-signature'] = sign('sha256', Buffer.from(m), { key: privateKey, dsaEncoding: 'der' }).toString('base64');
  bodies.push(JSON.stringify(body));
}
writeFileSync('/tmp/bdb/bodies.json', JSON.stringify(bodies));
