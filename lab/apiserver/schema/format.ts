/**
 * The cheap string `format` checks of CRD validation (kube-openapi's strfmt registry, the
 * subset the lab needs). Unknown formats pass, as they do in Kubernetes.
 */

const FORMATS: Readonly<Record<string, RegExp>> = {
  'date-time': /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/,
  date: /^\d{4}-\d{2}-\d{2}$/,
  hostname:
    /^(?=.{1,253}$)[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$/,
  uuid: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  byte: /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
  ipv4: /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/,
};

/** The format name when `value` violates `format`, undefined when it conforms (or is unchecked). */
export function checkFormat(value: string, format: string | undefined): string | undefined {
  if (format === undefined) return undefined;
  const re = FORMATS[format];
  if (re === undefined) return undefined;
  const ok =
    re.test(value) && (format !== 'date-time' && format !== 'date' ? true : !Number.isNaN(Date.parse(value)));
  return ok ? undefined : format;
}
