// Who may post and how often: an optional CIDR allowlist and an optional per-address token
// bucket on the ingest paths. The address is never stored; buckets live in memory only (per
// process on Node, per isolate on Workers).
import ipaddr from 'ipaddr.js';

export class GuardConfigError extends Error {}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses `10.0.0.0/8, 2001:db8::/32, 203.0.113.7` (a bare address is a /32 or /128). */
export function parseAllowlist(text: string): Range[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      try {
        if (entry.includes('/')) return ipaddr.parseCIDR(entry);
        const address = ipaddr.parse(entry);
        return [address, address.kind() === 'ipv4' ? 32 : 128] as Range;
      } catch {
        throw new GuardConfigError(`SKANPOST_ALLOWLIST: ${JSON.stringify(entry)} is not an address or CIDR range`);
      }
    });
}

export function allowed(address: string | undefined, ranges: Range[]): boolean {
  if (ranges.length === 0) return true;
  if (!address || !ipaddr.isValid(address)) return false;
  // An IPv4 client on a dual-stack socket appears as ::ffff:a.b.c.d.
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return ranges.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits));
}

export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly maxAddresses = 100_000,
  ) {}

  /** Takes a token for `address`; returns the seconds to wait when there is none. */
  take(address: string, now: number): number | undefined {
    const bucket = this.buckets.get(address) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.delete(address); // most recently seen last, so the oldest go first when full
    if (this.buckets.size >= this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(address, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.ceil((1 - bucket.tokens) / this.perSecond);
  }
}

/**
 * The client address: the socket's, or, behind a proxy the operator trusts, the header it sets.
 * For X-Forwarded-For that is the right-most entry: the one the trusted proxy appended.
 */
export function clientAddress(headers: Headers, socketAddress: string | undefined, trustedHeader: string | undefined): string | undefined {
  if (!trustedHeader) return socketAddress;
  const value = headers.get(trustedHeader);
  if (!value) return undefined;
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return trustedHeader.toLowerCase() === 'x-forwarded-for' ? entries.at(-1) : entries[0];
}
