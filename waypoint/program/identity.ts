/**
 * The waypoint's own identity (`spiffe://<td>/ns/<ns>/sa/<sa>`): either issued by the
 * controller's CA with the pod's own service-account token and refreshed at half life (the old
 * certificate stays in use while a refresh fails), or static PEM files for component tests.
 */
import { readFile } from 'node:fs/promises';
import { createPrivateKey, X509Certificate } from 'node:crypto';

import {
  anchorsStart,
  certsFromPem,
  CertRotator,
  createCsr,
  generateKey,
  privateKeyToPem,
  TrustBundle,
  type CaClient,
} from '../../certs/index.ts';
import { errorMessage, MeshError } from '../../common/errors.ts';
import type { HboneClientTls, HboneTlsMaterial } from '../../common/hbone/index.ts';
import { silentLogger, type Logger } from '../../common/log.ts';

/** One certificate of the waypoint, with everything TLS on both sides needs. */
export interface WaypointCert {
  readonly spiffeId: string;
  readonly keyPem: string;
  /** Leaf first, without the trailing roots (they are in `bundle`). */
  readonly certChainPem: readonly string[];
  /** Roots from WAYMESH_CA_ROOT (or --ca-file) merged with the self-signed certificates the chain ended with. */
  readonly bundle: TrustBundle;
  /** The self-signed certificates the chain ended with (the CA's roots as of this certificate). */
  readonly chainRoots: TrustBundle | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serial: string;
}

/**
 * Where the waypoint gets its certificate; `onUpdate` fires for every new one, and for the
 * current one again when the trust anchors changed.
 */
export interface IdentityProvider {
  start(): Promise<WaypointCert>;
  current(): WaypointCert | undefined;
  onUpdate(listener: (cert: WaypointCert) => void): void;
  /**
   * Trusts `pem` (the CA's roots, sent by the controller with the snapshots) from now on, next
   * to the roots the CA sent with the certificate, and for a CA-issued identity in place of the
   * configured roots (static files stay); replaces the anchors given before. Throws a MeshError
   * for PEM that holds no valid certificate.
   */
  trustAnchors(pem: string): void;
  stop(): void;
}

/** HBONE server material for `cert`. */
export function serverTls(cert: WaypointCert): HboneTlsMaterial {
  return { key: cert.keyPem, cert: cert.certChainPem.join(''), ca: cert.bundle.toPem() };
}

/** HBONE client material for `cert` (a new certificate never reuses old sessions). */
export function clientTls(cert: WaypointCert): HboneClientTls {
  return { ...serverTls(cert), identityKey: `${cert.spiffeId}#${cert.serial}` };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\s*/g;

/** Builds a {@link WaypointCert} from PEM material; throws a MeshError when it does not fit. */
export function certFromPem(
  spiffeId: string,
  keyPem: string,
  chainPem: readonly string[],
  roots: TrustBundle,
): WaypointCert {
  const chain = chainPem.flatMap((p) => p.match(PEM_CERT) ?? []);
  const leafPem = chain[0];
  if (leafPem === undefined) {
    throw new MeshError('WAYPOINT_CERT_EMPTY', `no certificate in the chain for ${spiffeId}`);
  }
  const leaf = new X509Certificate(leafPem);
  const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(leaf.subjectAltName ?? '')?.[1];
  if (uri !== spiffeId) {
    throw new MeshError(
      'WAYPOINT_CERT_WRONG_ID',
      `the certificate is for ${uri ?? 'no SPIFFE id'}, expected ${spiffeId}`,
      {
        hint: 'the waypoint identity comes from POD_NAMESPACE and SERVICE_ACCOUNT (or --namespace/--service-account)',
      },
    );
  }
  // A certificate for another key would only fail later, where the listener swaps it in (and
  // in the rotator's promise, a throw there would end the process): refuse it here, so the
  // rotator keeps the current certificate and retries.
  if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) {
    throw new MeshError(
      'WAYPOINT_CERT_KEY_MISMATCH',
      `the certificate issued for ${spiffeId} does not match its private key`,
    );
  }
  // The self-signed certificates the chain ends with are trust anchors: the chain's own root and,
  // during a root rotation, the other root the CA sends along. They join the bundle; peers carry
  // their own, so they are not served.
  const parsed = certsFromPem(chain.join(''), `certificate chain for ${spiffeId}`);
  const end = anchorsStart(parsed);
  const chainRoots =
    end === parsed.length ? undefined : new TrustBundle(roots.trustDomain, parsed.slice(end));
  return {
    spiffeId,
    keyPem,
    certChainPem: chain.slice(0, end),
    bundle: chainRoots === undefined ? roots : roots.merge(chainRoots),
    chainRoots,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    serial: leaf.serialNumber,
  };
}

class Listeners {
  private readonly fns: Array<(cert: WaypointCert) => void> = [];
  add(fn: (cert: WaypointCert) => void): void {
    this.fns.push(fn);
  }
  emit(cert: WaypointCert): void {
    for (const fn of this.fns) fn(cert);
  }
}

/**
 * A provider's certificates as handed out: with the trust anchors the controller sent in their
 * bundle. `replace`: the anchors and the roots the certificate came with, and no longer the
 * configured roots (WAYMESH_CA_ROOT is the controller's roots as of the waypoint's start, so a
 * root dropped since stops being trusted without a restart); else merged with the bundle (roots
 * an operator gave as files stay). The result is kept, so asking for it per connection is cheap.
 */
class AnchoredView {
  #anchors: TrustBundle | undefined;
  #memo: { cert: WaypointCert; anchors: TrustBundle; out: WaypointCert } | undefined;

  constructor(
    private readonly trustDomain: string,
    private readonly replace: boolean,
    private readonly listeners: Listeners,
  ) {}

  /** Takes the anchors in `pem` and tells the listeners `current` with them (when there is one). */
  set(pem: string, current: WaypointCert | undefined): void {
    this.#anchors = TrustBundle.fromPem(this.trustDomain, pem);
    const now = this.of(current);
    if (now !== undefined) this.listeners.emit(now);
  }

  of(cert: WaypointCert | undefined): WaypointCert | undefined {
    const anchors = this.#anchors;
    if (cert === undefined || anchors === undefined) return cert;
    const m = this.#memo;
    if (m !== undefined && m.cert === cert && m.anchors === anchors) return m.out;
    const base = this.replace ? cert.chainRoots : cert.bundle;
    const out = { ...cert, bundle: base === undefined ? anchors : base.merge(anchors) };
    this.#memo = { cert, anchors, out };
    return out;
  }
}

/** An identity read once from PEM files (`--cert-file/--key-file/--ca-file`). */
export function staticIdentity(
  spiffeId: string,
  files: { certFile: string; keyFile: string; caFile: string },
  trustDomain: string,
): IdentityProvider {
  let cert: WaypointCert | undefined;
  const listeners = new Listeners();
  const view = new AnchoredView(trustDomain, false, listeners);
  return {
    async start() {
      const read = async (path: string, what: string): Promise<string> => {
        try {
          return await readFile(path, 'utf8');
        } catch (err) {
          throw new MeshError(
            'WAYPOINT_FILE_UNREADABLE',
            `cannot read the ${what} ${path}: ${errorMessage(err)}`,
          );
        }
      };
      const [chain, key, ca] = await Promise.all([
        read(files.certFile, 'certificate file'),
        read(files.keyFile, 'key file'),
        read(files.caFile, 'CA file'),
      ]);
      cert = certFromPem(spiffeId, key, [chain], TrustBundle.fromPem(trustDomain, ca));
      return view.of(cert) ?? cert;
    },
    current: () => view.of(cert),
    onUpdate: (fn) => listeners.add(fn),
    trustAnchors(pem) {
      view.set(pem, cert);
    },
    stop: () => undefined,
  };
}

/** An identity issued by the controller's CA, renewed at half life by a CertRotator. */
export function caIdentity(
  spiffeId: string,
  ca: Pick<CaClient, 'createCertificate'>,
  roots: TrustBundle,
  logger: Logger = silentLogger,
): IdentityProvider {
  const listeners = new Listeners();
  const view = new AnchoredView(roots.trustDomain, true, listeners);
  const rotator = new CertRotator<WaypointCert>({
    fetch: async () => {
      const key = generateKey();
      const chain = await ca.createCertificate(createCsr(key, spiffeId));
      return certFromPem(spiffeId, privateKeyToPem(key), chain, roots);
    },
    onUpdate: (cert) => listeners.emit(view.of(cert) ?? cert),
    logger: logger.child({ component: 'identity', principal: spiffeId }),
  });
  return {
    start: async () => {
      const first = await rotator.start();
      return view.of(first) ?? first;
    },
    current: () => view.of(rotator.current()),
    onUpdate: (fn) => listeners.add(fn),
    trustAnchors(pem) {
      view.set(pem, rotator.current());
    },
    stop: () => rotator.stop(),
  };
}
