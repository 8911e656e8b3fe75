// A small Prometheus registry: counters and histograms with labels, rendered in the text format.
// Written here because the usual client libraries need Node's modules and this runs on Workers
// too (where every isolate counts for itself).

type Labels = Record<string, string>;

const escapeValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const render = (labels: Labels) => {
  const entries = Object.entries(labels);
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')}}` : '';
};

class Counter<L extends Labels = Labels> {
  private values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    /** The labels every sample has, in a fixed order: a sample's key is their values. */
    private readonly labelNames: ReadonlyArray<keyof L & string>,
  ) {}
  inc(labels: L, by = 1): void {
    // Counted on every request: a key joined from the values, not a sorted and stringified copy
    // of the labels (~1 µs per request). Label values are skanpost's own words, never NUL.
    let k = '';
    for (const name of this.labelNames) k += `${labels[name]}\u0000`;
    const entry = this.values.get(k);
    if (entry) entry.value += by;
    else this.values.set(k, { labels, value: by });
  }
  text(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${render(labels)} ${value}`);
    return lines.join('\n');
  }
}

export class Histogram {
  private counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    this.buckets.forEach((le, i) => {
      if (value <= le) this.counts[i]!++;
    });
  }
  text(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [i, le] of this.buckets.entries()) lines.push(`${this.name}_bucket{le="${le}"} ${this.counts[i]}`);
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

/** A metric computed when scraped (database size, outbox counts…). */
export interface Gauge {
  name: string;
  help: string;
  samples: Array<{ labels?: Labels; value: number }>;
}

const gaugeText = (g: Gauge) => [`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`, ...g.samples.map((s) => `${g.name}${render(s.labels ?? {})} ${s.value}`)].join('\n');

/** The `reason` label of skanpost_ingest_rejected_total: why an ingest request got no 200 (documented; a test compares). */
export const INGEST_REJECT_REASONS = [
  'invalid_postback',
  'body_too_large',
  'method_not_allowed',
  'not_allowed',
  'rate_limited',
  'overloaded',
  'storage_unavailable',
  'invalid_relay_key',
  'relay_network_mismatch',
] as const;
export type IngestRejectReason = (typeof INGEST_REJECT_REASONS)[number];

/** The `reason` label of skanpost_mmp_refused_total: why an MMP postback was not stored (documented; a test compares). */
export const MMP_REFUSE_REASONS = ['invalid_token', 'not_allowed', 'invalid_postback', 'body_too_large', 'rate_limited', 'storage_unavailable'] as const;
export type MmpRefuseReason = (typeof MMP_REFUSE_REASONS)[number];

export class IngestMetrics {
  readonly ingested = new Counter<{ outcome: string; signature: string }>('skanpost_ingest_total', 'Postbacks answered 200, by outcome and signature verdict', [
    'outcome',
    'signature',
  ]);
  readonly rejected = new Counter<{ reason: IngestRejectReason }>('skanpost_ingest_rejected_total', 'Ingest requests not answered 200, by reason', ['reason']);
  readonly duration = new Histogram(
    'skanpost_ingest_duration_seconds',
    'Time from request to answer for ingest',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );

  readonly mmpPostbacks = new Counter<{ outcome: string }>('skanpost_mmp_postbacks_total', 'MMP postbacks answered 200 or 422, by outcome (duplicate included)', ['outcome']);
  readonly mmpRefused = new Counter<{ reason: MmpRefuseReason }>('skanpost_mmp_refused_total', 'MMP postback requests refused without storing, by reason', ['reason']);
  readonly clicks = new Counter<{ touch: string }>('skanpost_clicks_total', 'Clicks and impressions answered through /c and /i, by touch', ['touch']);

  text(extra: Gauge[] = []): string {
    return `${[this.ingested.text(), this.rejected.text(), this.duration.text(), this.mmpPostbacks.text(), this.mmpRefused.text(), this.clicks.text(), ...extra.map(gaugeText)].join('\n\n')}\n`;
  }
}
