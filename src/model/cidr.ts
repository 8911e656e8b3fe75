// Address ranges as operators write them (`10.0.0.0/8, 2001:db8::/32, 203.0.113.7`): parsed once,
// matched per request. Shared by Apple's ingest allowlist and each MMP partner's.
import ipaddr from 'ipaddr.js';

export type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses a comma-separated list (a bare address is a /32 or /128); `bad` is the first entry that is neither. */
export function parseCidrList(text: string): { ranges: Range[]; bad?: string } {
  const ranges: Range[] = [];
  for (const entry of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    try {
      if (entry.includes('/')) ranges.push(ipaddr.parseCIDR(entry));
      else {
        const address = ipaddr.parse(entry);
        ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
      }
    } catch {
      return { ranges, bad: entry };
    }
  }
  return { ranges };
}

/** Whether `address` falls in one of `ranges`; an empty list lets everyone in, an unknown address no one. */
export function inRanges(address: string | undefined, ranges: readonly Range[]): boolean {
  if (ranges.length === 0) return true;
  if (!address || !ipaddr.isValid(address)) return false;
  // An IPv4 client on a dual-stack socket appears as ::ffff:a.b.c.d.
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return ranges.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits));
}
