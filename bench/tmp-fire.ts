import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
const bodies = JSON.parse(readFileSync('/tmp/bdb/bodies.json', 'utf8')) as string[];
let n = 0;
const r = await autocannon({ url: `http://127.0.0.1:${process.argv[2]}/.well-known/skadnetwork/report-attribution/`, connections: 64, duration: 6, requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, body: bodies[n++ % bodies.length] }) }] });
console.log(r.requests.average, r.latency.p99);
