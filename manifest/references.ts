/** A `${…}` reference inside a manifest env value, resolved by the releaser at deploy time. */
export type Reference = { kind: "secret"; name: string } | { kind: "service-host"; service: string };

/** An env value cut into literal text and references, with the problems found on the way. */
export interface ParsedTemplate {
  parts: (string | Reference)[];
  problems: string[];
}

/**
 * Cuts an env value into text and references: `${secret.NAME}` and `${service.NAME.host}`.
 * `$${` stands for a literal `${`; any other `$` is literal, so passwords such as `pa$$word` need no
 * escaping (unlike docker-compose, where `$$` always means `$`).
 */
export function parseTemplate(value: string): ParsedTemplate {
  const parts: (string | Reference)[] = [];
  const problems: string[] = [];
  let text = "";
  let i = 0;
  while (i < value.length) {
    if (value.startsWith("$${", i)) {
      text += "${";
      i += 3;
      continue;
    }
    if (!value.startsWith("${", i)) {
      text += value.charAt(i++);
      continue;
    }
    const end = value.indexOf("}", i + 2);
    if (end < 0) {
      problems.push(`"\${" is never closed with "}"; write "$\${" for a literal "\${"`);
      text += value.slice(i);
      break;
    }
    const inner = value.slice(i + 2, end);
    const ref = referenceFrom(inner);
    if (ref) {
      if (text) parts.push(text);
      text = "";
      parts.push(ref);
    } else {
      problems.push(`\${${inner}} is not a reference berth knows; use \${secret.NAME} or \${service.NAME.host}, or write $\${${inner}} to keep the text as it is`);
      text += value.slice(i, end + 1);
    }
    i = end + 1;
  }
  if (text) parts.push(text);
  return { parts, problems };
}

/** The value with every reference replaced by `resolve(reference)`; the value must have parsed without problems. */
export function expandReferences(value: string, resolve: (reference: Reference) => string): string {
  const { parts, problems } = parseTemplate(value);
  if (problems.length > 0) throw new Error(problems.join("; "));
  return parts.map((part) => (typeof part === "string" ? part : resolve(part))).join("");
}

/** `${secret.NAME}` or `${service.NAME.host}` as written in the manifest. */
export function formatReference(reference: Reference): string {
  return reference.kind === "secret" ? `\${secret.${reference.name}}` : `\${service.${reference.service}.host}`;
}

function referenceFrom(inner: string): Reference | undefined {
  const secret = /^secret\.([^.\s]+)$/.exec(inner);
  if (secret?.[1]) return { kind: "secret", name: secret[1] };
  const service = /^service\.([^.\s]+)\.host$/.exec(inner);
  if (service?.[1]) return { kind: "service-host", service: service[1] };
  return undefined;
}
