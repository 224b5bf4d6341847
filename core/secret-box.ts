import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { Sensitive } from "./sensitive.js";

const VERSION = "v1";

/** Decodes BERTH_SECRET_KEY (64 hex characters or base64 of 32 bytes); undefined when it is neither. */
export function decodeSecretKey(raw: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, "hex");
  const b = Buffer.from(raw, "base64");
  return b.length === 32 ? b : undefined;
}

/**
 * Encrypts app secrets at rest with AES-256-GCM under BERTH_SECRET_KEY. Each value gets its own random
 * nonce; the app and secret name are authenticated with it, so a ciphertext copied onto another
 * secret's row does not decrypt.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Sensitive) {
    const decoded = decodeSecretKey(key.unwrap());
    if (!decoded) throw new Error("BERTH_SECRET_KEY must be 32 bytes as 64 hex characters or base64");
    this.#key = decoded;
  }

  seal(context: string, value: Sensitive): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(value.unwrap(), "utf8"), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
  }

  /** A key of its own for one purpose (HMAC-SHA256 of the context under BERTH_SECRET_KEY), as hex: the same on every start. */
  derive(context: string): Sensitive {
    return new Sensitive(createHmac("sha256", this.#key).update(`derive:${context}`).digest("hex"));
  }

  open(context: string, sealed: string): Sensitive {
    const [version, data = ""] = sealed.split(":", 2);
    if (version !== VERSION) throw new Error(`unknown secret format ${version}`);
    const raw = Buffer.from(data, "base64");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(raw.subarray(12, 28));
    return new Sensitive(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8"));
  }
}
