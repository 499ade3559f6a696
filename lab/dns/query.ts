/**
 * One DNS request in, one response (or nothing) out: header checks, EDNS0, the zone lookup and
 * truncation for UDP. Pure, so the server around it only moves bytes and logs.
 */
import { errorMessage } from '../../common/errors.ts';
import { answer, type Zone } from './zone.ts';
import {
  decodeMessage,
  encodeMessage,
  peekHeader,
  RCODE,
  type DnsMessage,
  type Edns,
  type Question,
} from './wire.ts';

/** The transport a query came in on; UDP answers are truncated to the client's payload size. */
export type Transport = 'udp' | 'tcp';

/** Largest EDNS payload size the server offers in its OPT record. */
export const SERVER_UDP_PAYLOAD = 4096;

/** What happened to one request, for the per-query log line. */
export interface QuerySummary {
  readonly id?: number;
  readonly question?: string;
  readonly rcode?: number;
  readonly answers?: number;
  readonly truncated?: boolean;
  /** Why the request was dropped or answered FORMERR. */
  readonly problem?: string;
}

/** Result of {@link handleQuery}: `response` is absent when the request is dropped. */
export interface QueryResult {
  readonly response?: Uint8Array;
  readonly summary: QuerySummary;
}

const TYPE_NAMES: Record<number, string> = {
  1: 'A',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  28: 'AAAA',
  33: 'SRV',
  255: 'ANY',
};

function describe(q: Question): string {
  return `${q.name} ${TYPE_NAMES[q.type] ?? `TYPE${q.type}`}`;
}

/**
 * Answers `request` from `zone`; `zone` is `undefined` until the first sync, which answers
 * SERVFAIL so resolvers retry rather than cache a wrong NXDOMAIN.
 */
export function handleQuery(zone: Zone | undefined, request: Uint8Array, transport: Transport): QueryResult {
  const header = peekHeader(request);
  if (header === undefined) return { summary: { problem: 'shorter than a DNS header; dropped' } };
  if (header.qr) return { summary: { id: header.id, problem: 'a response, not a query; dropped' } };
  const reply = (
    query: Pick<DnsMessage, 'questions'> & { edns?: Edns },
    rcode: number,
    rest: Partial<Pick<DnsMessage, 'answers' | 'authority' | 'additional'>> = {},
    aa = false,
  ): Uint8Array => {
    const edns =
      query.edns === undefined
        ? undefined
        : { udpPayloadSize: SERVER_UDP_PAYLOAD, extendedRcode: 0, version: 0, dnssecOk: false };
    const message: DnsMessage = {
      id: header.id,
      flags: { qr: true, opcode: header.opcode, aa, tc: false, rd: header.rd, ra: false, rcode },
      questions: query.questions,
      answers: rest.answers ?? [],
      authority: rest.authority ?? [],
      additional: rest.additional ?? [],
      ...(edns === undefined ? {} : { edns }),
    };
    const maxSize =
      transport === 'tcp'
        ? 0xffff
        : query.edns === undefined
          ? 512
          : Math.max(512, query.edns.udpPayloadSize);
    return encodeMessage(message, { maxSize });
  };
  let query: DnsMessage;
  try {
    query = decodeMessage(request);
  } catch (err) {
    return {
      response: reply({ questions: [] }, RCODE.FORMERR),
      summary: { id: header.id, rcode: RCODE.FORMERR, problem: errorMessage(err) },
    };
  }
  const question = query.questions[0];
  const summary = { id: query.id, ...(question === undefined ? {} : { question: describe(question) }) };
  const fail = (rcode: number, problem?: string): QueryResult => ({
    response: reply(query, rcode),
    summary: { ...summary, rcode, ...(problem === undefined ? {} : { problem }) },
  });
  if (query.edns !== undefined && query.edns.version !== 0)
    return fail(RCODE.BADVERS, `EDNS version ${query.edns.version}`);
  if (query.flags.opcode !== 0) return fail(RCODE.NOTIMP, `opcode ${query.flags.opcode}`);
  if (question === undefined || query.questions.length !== 1) {
    return fail(RCODE.FORMERR, `${query.questions.length} questions; exactly one is supported`);
  }
  if (zone === undefined) return fail(RCODE.SERVFAIL, 'zone not synced from the API server yet');
  const found = answer(zone, question);
  const response = reply(query, found.rcode, found, found.rcode !== RCODE.REFUSED);
  // Bit 9 of the second header byte pair is TC.
  const truncated = ((response[2] ?? 0) & 0x02) !== 0;
  return { response, summary: { ...summary, rcode: found.rcode, answers: found.answers.length, truncated } };
}
