import type { Sensitive } from "./sensitive.js";

/** A Docker client's TLS material as PEM text (Docker's ca.pem, cert.pem, key.pem); the key never prints. */
export interface TlsBundle {
  ca: string;
  cert: string;
  key: Sensitive;
}
