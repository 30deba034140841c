import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import { AppError } from '../errors.ts';

/** A refused connection, for the server's log: the address a name resolved to stays out of the user's message. */
export interface OutboundRefusal {
  host: string;
  address: string;
  range: string;
}

export interface OutboundGuardOptions {
  /** Addresses, CIDR ranges or host names let through although not public. */
  allowList?: readonly string[];
  /** Hears every refused address (to log it). */
  onRefused?: (refusal: OutboundRefusal) => void;
}

/**
 * Every request the server makes on a user's behalf (MCP servers, OAuth endpoints, imports) goes
 * through one guard. It refuses any address that is not public unicast: loopback, private,
 * link-local (cloud metadata at 169.254.169.254 included), unique-local, carrier-grade NAT,
 * multicast, reserved, and IPv4 addresses dressed as IPv6. Entries of the allow-list (addresses,
 * CIDR ranges or host names) are let through.
 *
 * The check sits where the connection is made, after DNS resolution: every connection, every
 * redirect hop included, is checked against the address it actually connects to, so a name that
 * resolves differently the second time (DNS rebinding) gains nothing. Literal addresses in any
 * spelling (`2130706433`, `0x7f.1`, `[::ffff:7f00:1]`) are normalised by the URL parser first.
 *
 * A refusal never tells the user what a host name resolves to (that would map the internal
 * network for anyone who can submit a URL): it says "a non-public address", and the address goes
 * to `onRefused` for the server's log.
 */
export class OutboundGuard {
  private readonly ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  private readonly hosts = new Set<string>();
  private readonly agent: Agent;
  private readonly onRefused: ((refusal: OutboundRefusal) => void) | undefined;

  constructor(options: OutboundGuardOptions = {}) {
    this.onRefused = options.onRefused;
    for (const entry of options.allowList ?? []) {
      const range = parseRange(entry);
      if (range) this.ranges.push(range);
      else this.hosts.add(entry.toLowerCase());
    }
    const connect = buildConnector({ lookup: (hostname, options, callback) => this.lookup(hostname, options, callback) });
    this.agent = new Agent({
      connect: (options, callback) => {
        const refusal = net.isIP(options.hostname) ? this.refusal(options.hostname, options.hostname) : undefined;
        if (refusal) return callback(refusal, null);
        connect(options, callback);
      },
    });
  }

  /**
   * Checks a URL before it is stored or used: http(s) only, no credentials in it, and every address
   * its host resolves to allowed. Connections are checked again when they are made.
   */
  async checkUrl(url: string): Promise<URL> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new AppError('OUTBOUND_REFUSED', 'The URL is not valid.');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new AppError('OUTBOUND_REFUSED', 'Only http:// and https:// URLs are allowed.');
    if (parsed.username || parsed.password) throw new AppError('OUTBOUND_REFUSED', 'A URL may not carry a user name or password.');
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    const addresses = net.isIP(host) ? [host] : await resolveAll(host);
    for (const address of addresses) {
      const refusal = this.refusal(address, host);
      if (refusal) throw refusal;
    }
    return parsed;
  }

  /** `fetch`, with every connection (redirects included) checked. A refused address throws OUTBOUND_REFUSED. */
  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = String(url);
    if (!/^https?:\/\//i.test(target)) throw new AppError('OUTBOUND_REFUSED', 'Only http:// and https:// URLs are allowed.');
    try {
      const response = await undiciFetch(target, { ...(init as UndiciRequestInit), dispatcher: this.agent });
      return response as unknown as Response;
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof AppError) throw cause;
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** The error refusing `address` (reached for `host`), or undefined when it is allowed. */
  private refusal(address: string, host: string): AppError | undefined {
    if (this.hosts.has(host.toLowerCase())) return undefined;
    let parsed: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      parsed = ipaddr.parse(address);
    } catch {
      return new AppError('OUTBOUND_REFUSED', `"${host}" did not resolve to an address.`);
    }
    if (parsed.kind() === 'ipv6') {
      const v6 = parsed as ipaddr.IPv6;
      // IPv4 addresses dressed as IPv6: mapped (::ffff:a.b.c.d) and the deprecated compatible form (::a.b.c.d).
      const compatible = v6.parts.slice(0, 6).every((p) => p === 0) && (v6.parts[6] !== 0 || v6.parts[7]! > 1);
      if (v6.isIPv4MappedAddress() || compatible)
        parsed = ipaddr.IPv4.parse(`${v6.parts[6]! >> 8}.${v6.parts[6]! & 255}.${v6.parts[7]! >> 8}.${v6.parts[7]! & 255}`);
    }
    if (this.ranges.some(([base, bits]) => base.kind() === parsed.kind() && parsed.match(base, bits))) return undefined;
    const range = parsed.range();
    if (range === 'unicast') return undefined;
    this.onRefused?.({ host, address, range });
    const hint = 'An administrator can allow it with OUTBOUND_ALLOWED_HOSTS.';
    // An address the user wrote can be named; what a name resolves to is not theirs to learn.
    if (host === address)
      return new AppError('OUTBOUND_REFUSED', `Requests to ${address} are refused: it is a ${describe(range)} address. ${hint}`, {
        details: {
          host,
          range,
        },
      });
    return new AppError('OUTBOUND_REFUSED', `Requests to "${host}" are refused: it resolves to a non-public address. ${hint}`, {
      details: { host },
    });
  }

  private lookup(
    hostname: string,
    options: dns.LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
  ): void {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '');
      for (const { address } of addresses) {
        const refused = this.refusal(address, hostname);
        if (refused) return callback(refused as unknown as NodeJS.ErrnoException, '');
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
      callback(null, first.address, first.family);
    });
  }
}

/** An allow-list entry: an address, a CIDR range, or a host name. */
export function isAllowListEntry(entry: string): boolean {
  const text = entry.replace(/^\[|\]$/g, '');
  if (text.includes('/')) return ipaddr.isValidCIDR(text);
  return ipaddr.isValid(text) || /^[a-z0-9]([a-z0-9-]{0,62}\.)*[a-z0-9-]{1,63}$/i.test(text);
}

function parseRange(entry: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | undefined {
  const text = entry.replace(/^\[|\]$/g, '');
  if (text.includes('/')) return ipaddr.parseCIDR(text);
  if (!ipaddr.isValid(text)) return undefined;
  const address = ipaddr.parse(text);
  return [address, address.kind() === 'ipv4' ? 32 : 128];
}

async function resolveAll(host: string): Promise<string[]> {
  try {
    return (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
  } catch {
    throw new AppError('OUTBOUND_REFUSED', `"${host}" cannot be resolved.`, { details: { host } });
  }
}

function describe(range: string): string {
  const names: Record<string, string> = {
    loopback: 'loopback',
    private: 'private',
    linkLocal: 'link-local (cloud metadata)',
    uniqueLocal: 'unique-local',
    carrierGradeNat: 'carrier-grade NAT',
    unspecified: 'unspecified',
    multicast: 'multicast',
    broadcast: 'broadcast',
  };
  return names[range] ?? `non-public (${range})`;
}
