/**
 * DNS messages on the wire (RFC 1035 §4, EDNS0 from RFC 6891): decode a datagram into a plain
 * {@link DnsMessage} and encode one back, with name compression both ways. Pure: no I/O.
 *
 * Decoding never trusts the packet: counts larger than the packet, truncated records, compression
 * pointers that do not point strictly backwards (the only way to build a loop) and over-long names
 * all throw a `MeshError` with code `DNS_FORMERR`, which the server turns into FORMERR or a drop.
 */
import { MeshError } from '../../common/errors.ts';
import { readName, writeName, type NameTable } from './names.ts';

/** Record and query type numbers the lab knows by name. */
export const RR = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

/** Response codes (the 4 header bits; BADVERS needs the EDNS extended bits). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

/** The Internet class. */
export const CLASS_IN = 1;

/** A question: name in presentation form without the trailing dot (`''` is the root). */
export interface Question {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

/** Record data, by type; types the lab does not interpret keep their raw bytes. */
export type RecordData =
  | { readonly type: 'A'; readonly address: string }
  | { readonly type: 'AAAA'; readonly address: string }
  | { readonly type: 'CNAME'; readonly target: string }
  | { readonly type: 'PTR'; readonly target: string }
  | {
      readonly type: 'SRV';
      readonly priority: number;
      readonly weight: number;
      readonly port: number;
      readonly target: string;
    }
  | {
      readonly type: 'SOA';
      readonly mname: string;
      readonly rname: string;
      readonly serial: number;
      readonly refresh: number;
      readonly retry: number;
      readonly expire: number;
      readonly minimum: number;
    }
  | { readonly type: 'raw'; readonly rrtype: number; readonly bytes: Uint8Array };

/** A resource record (never an OPT pseudo-record: that is {@link DnsMessage.edns}). */
export interface ResourceRecord {
  readonly name: string;
  readonly class: number;
  readonly ttl: number;
  readonly data: RecordData;
}

/** The EDNS0 OPT pseudo-record, decoded. Options are accepted and ignored. */
export interface Edns {
  readonly udpPayloadSize: number;
  /** Upper 8 bits of the 12-bit response code. */
  readonly extendedRcode: number;
  readonly version: number;
  /** The DO bit. */
  readonly dnssecOk: boolean;
}

/** Header flags (RFC 1035 §4.1.1). `rcode` holds all 12 bits when EDNS is present. */
export interface Flags {
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly rcode: number;
}

/** A whole DNS message. */
export interface DnsMessage {
  readonly id: number;
  readonly flags: Flags;
  readonly questions: readonly Question[];
  readonly answers: readonly ResourceRecord[];
  readonly authority: readonly ResourceRecord[];
  readonly additional: readonly ResourceRecord[];
  readonly edns?: Edns;
}

const HEADER = 12;

function formerr(message: string): MeshError {
  return new MeshError('DNS_FORMERR', `malformed DNS message: ${message}`);
}

/** The numeric type of a record's data. */
export function recordType(data: RecordData): number {
  return data.type === 'raw' ? data.rrtype : RR[data.type];
}

/** Reads the header's id and QR bit, or `undefined` when not even a header is there. */
export function peekHeader(
  buf: Uint8Array,
): { id: number; qr: boolean; opcode: number; rd: boolean } | undefined {
  if (buf.length < HEADER) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bits = view.getUint16(2);
  return {
    id: view.getUint16(0),
    qr: (bits & 0x8000) !== 0,
    opcode: (bits >> 11) & 0xf,
    rd: (bits & 0x100) !== 0,
  };
}

/** Decodes a message; throws `MeshError` `DNS_FORMERR` on anything malformed. */
export function decodeMessage(buf: Uint8Array): DnsMessage {
  if (buf.length < HEADER) throw formerr(`${buf.length} bytes is shorter than the 12-byte header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bits = view.getUint16(2);
  const counts = [view.getUint16(4), view.getUint16(6), view.getUint16(8), view.getUint16(10)] as const;
  // Every question takes at least 5 bytes and every record 11: reject absurd counts up front.
  if (HEADER + counts[0] * 5 + (counts[1] + counts[2] + counts[3]) * 11 > buf.length) {
    throw formerr('section counts are larger than the packet');
  }
  let pos = HEADER;
  const need = (n: number, what: string): void => {
    if (pos + n > buf.length) throw formerr(`truncated ${what}`);
  };
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, end } = readName(buf, pos);
    pos = end;
    need(4, 'question');
    questions.push({ name, type: view.getUint16(pos), class: view.getUint16(pos + 2) });
    pos += 4;
  }
  const sections: ResourceRecord[][] = [[], [], []];
  let edns: Edns | undefined;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < (counts[s + 1] ?? 0); i++) {
      const { name, end } = readName(buf, pos);
      pos = end;
      need(10, 'record header');
      const type = view.getUint16(pos);
      const klass = view.getUint16(pos + 2);
      const ttl = view.getUint32(pos + 4);
      const rdlength = view.getUint16(pos + 8);
      pos += 10;
      need(rdlength, 'record data');
      if (type === RR.OPT) {
        if (s !== 2 || name !== '' || edns !== undefined) throw formerr('misplaced or repeated OPT record');
        edns = {
          udpPayloadSize: klass,
          extendedRcode: ttl >>> 24,
          version: (ttl >>> 16) & 0xff,
          dnssecOk: (ttl & 0x8000) !== 0,
        };
      } else {
        sections[s]?.push({ name, class: klass, ttl, data: readData(buf, view, type, pos, rdlength) });
      }
      pos += rdlength;
    }
  }
  if (pos !== buf.length) throw formerr(`${buf.length - pos} trailing bytes after the last record`);
  const message: DnsMessage = {
    id: view.getUint16(0),
    flags: {
      qr: (bits & 0x8000) !== 0,
      opcode: (bits >> 11) & 0xf,
      aa: (bits & 0x400) !== 0,
      tc: (bits & 0x200) !== 0,
      rd: (bits & 0x100) !== 0,
      ra: (bits & 0x80) !== 0,
      rcode: (bits & 0xf) | ((edns?.extendedRcode ?? 0) << 4),
    },
    questions,
    answers: sections[0] ?? [],
    authority: sections[1] ?? [],
    additional: sections[2] ?? [],
  };
  return edns === undefined ? message : { ...message, edns };
}

function readData(buf: Uint8Array, view: DataView, type: number, start: number, length: number): RecordData {
  const end = start + length;
  const nameAt = (at: number): { name: string; end: number } => {
    const read = readName(buf, at);
    if (read.end > end) throw formerr('name runs past its record');
    return read;
  };
  const exact = <T>(value: T, used: number): T => {
    if (used !== end) throw formerr(`type ${type} record data has the wrong length`);
    return value;
  };
  switch (type) {
    case RR.A:
      return exact({ type: 'A', address: Array.from(buf.subarray(start, end)).join('.') }, start + 4);
    case RR.AAAA: {
      if (length !== 16) throw formerr('AAAA record data is not 16 bytes');
      const groups: string[] = [];
      for (let i = 0; i < 8; i++) groups.push(view.getUint16(start + 2 * i).toString(16));
      return { type: 'AAAA', address: compressIpv6(groups) };
    }
    case RR.CNAME:
    case RR.PTR: {
      const { name, end: used } = nameAt(start);
      return exact({ type: type === RR.CNAME ? 'CNAME' : 'PTR', target: name }, used);
    }
    case RR.SRV: {
      if (length < 7) throw formerr('SRV record data is too short');
      const { name, end: used } = nameAt(start + 6);
      const [priority, weight, port] = [
        view.getUint16(start),
        view.getUint16(start + 2),
        view.getUint16(start + 4),
      ];
      return exact({ type: 'SRV', priority, weight, port, target: name }, used);
    }
    case RR.SOA: {
      const m = nameAt(start);
      const r = nameAt(m.end);
      if (r.end + 20 !== end) throw formerr('SOA record data has the wrong length');
      const n = (i: number): number => view.getUint32(r.end + 4 * i);
      return {
        type: 'SOA',
        mname: m.name,
        rname: r.name,
        serial: n(0),
        refresh: n(1),
        retry: n(2),
        expire: n(3),
        minimum: n(4),
      };
    }
    default:
      return { type: 'raw', rrtype: type, bytes: buf.slice(start, end) };
  }
}

function compressIpv6(groups: string[]): string {
  // RFC 5952: the longest run (of at least two) of zero groups becomes `::`.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Options for {@link encodeMessage}. */
export interface EncodeOptions {
  /** Largest message allowed (UDP payload size); above it, records are dropped and TC is set. */
  readonly maxSize?: number;
}

/** Encodes a message. When it exceeds `maxSize`, answers it without records and with TC set. */
export function encodeMessage(message: DnsMessage, options: EncodeOptions = {}): Uint8Array {
  const full = encodeSections(message, message.flags.tc);
  if (options.maxSize === undefined || full.length <= options.maxSize) return full;
  return encodeSections({ ...message, answers: [], authority: [], additional: [] }, true);
}

function encodeSections(message: DnsMessage, tc: boolean): Uint8Array {
  const w = new Writer();
  const f = message.flags;
  w.u16(message.id);
  w.u16(
    (f.qr ? 0x8000 : 0) |
      ((f.opcode & 0xf) << 11) |
      (f.aa ? 0x400 : 0) |
      (tc ? 0x200 : 0) |
      (f.rd ? 0x100 : 0) |
      (f.ra ? 0x80 : 0) |
      (f.rcode & 0xf),
  );
  w.u16(message.questions.length);
  w.u16(message.answers.length);
  w.u16(message.authority.length);
  w.u16(message.additional.length + (message.edns === undefined ? 0 : 1));
  for (const q of message.questions) {
    w.name(q.name, true);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of [...message.answers, ...message.authority, ...message.additional]) w.record(rr);
  if (message.edns !== undefined) {
    const e = message.edns;
    w.name('', false);
    w.u16(RR.OPT);
    w.u16(e.udpPayloadSize);
    // The extended rcode bits come from the header rcode so the two can never disagree.
    w.u32((((f.rcode >> 4) & 0xff) << 24) | ((e.version & 0xff) << 16) | (e.dnssecOk ? 0x8000 : 0));
    w.u16(0);
  }
  return w.bytes();
}

class Writer {
  #buf = new Uint8Array(512);
  #len = 0;
  readonly #names: NameTable = new Map();

  #grow(n: number): void {
    if (this.#len + n > 0xffff) throw new MeshError('DNS_TOO_LARGE', 'DNS message would exceed 65535 bytes');
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  u8(v: number): void {
    this.#grow(1);
    this.#buf[this.#len++] = v & 0xff;
  }

  u16(v: number): void {
    this.u8(v >> 8);
    this.u8(v);
  }

  u32(v: number): void {
    this.u16(v >>> 16);
    this.u16(v & 0xffff);
  }

  raw(bytes: Uint8Array): void {
    this.#grow(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  name(name: string, compress: boolean): void {
    this.raw(writeName(name, this.#len, compress ? this.#names : undefined));
  }

  record(rr: ResourceRecord): void {
    const d = rr.data;
    this.name(rr.name, true);
    this.u16(recordType(d));
    this.u16(rr.class);
    this.u32(rr.ttl);
    const lengthAt = this.#len;
    this.u16(0);
    switch (d.type) {
      case 'A':
        this.raw(ipv4Bytes(d.address));
        break;
      case 'AAAA':
        this.raw(ipv6Bytes(d.address));
        break;
      case 'CNAME':
      case 'PTR':
        this.name(d.target, true);
        break;
      case 'SRV':
        this.u16(d.priority);
        this.u16(d.weight);
        this.u16(d.port);
        // RFC 2782: the SRV target is not compressed.
        this.name(d.target, false);
        break;
      case 'SOA':
        this.name(d.mname, true);
        this.name(d.rname, true);
        for (const n of [d.serial, d.refresh, d.retry, d.expire, d.minimum]) this.u32(n);
        break;
      case 'raw':
        this.raw(d.bytes);
        break;
    }
    const rdlength = this.#len - lengthAt - 2;
    this.#buf[lengthAt] = rdlength >> 8;
    this.#buf[lengthAt + 1] = rdlength & 0xff;
  }

  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** The 4 bytes of a dotted-quad IPv4 address; throws `DNS_BAD_ADDRESS` otherwise. */
export function ipv4Bytes(address: string): Uint8Array {
  const parts = address.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new MeshError('DNS_BAD_ADDRESS', `"${address}" is not an IPv4 address`);
  }
  return Uint8Array.from(parts.map(Number));
}

function ipv6Bytes(address: string): Uint8Array {
  const bad = (): MeshError => new MeshError('DNS_BAD_ADDRESS', `"${address}" is not an IPv6 address`);
  const halves = address.split('::');
  if (halves.length > 2) throw bad();
  const split = (s: string | undefined): string[] => (s === undefined || s === '' ? [] : s.split(':'));
  const head = split(halves[0]);
  const tail = split(halves[1]);
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) throw bad();
  const groups = [...head, ...Array<string>(halves.length === 1 ? 0 : fill).fill('0'), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}
