/** A secret value that redacts itself everywhere except where a driver unwraps it on purpose. */
export class Sensitive {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** Returns the raw value; call only at the moment of use (an HTTP header, an env var for a container). */
  unwrap(): string {
    return this.#value;
  }

  toString(): string {
    return "[redacted]";
  }

  toJSON(): string {
    return "[redacted]";
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "[redacted]";
  }
}
