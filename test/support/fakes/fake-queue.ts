/** A job as the code under test sees one: its id, data, state, and removal. */
export interface FakeJob<T> {
  id: string;
  name: string;
  data: T;
  state: "waiting" | "active" | "completed" | "failed";
  removed: boolean;
  getState(): Promise<string>;
  remove(): Promise<void>;
}

/**
 * The part of a BullMQ Queue berth's webhook and dispatch code uses: `add` with a job id that
 * dedupes, as BullMQ's does, and `getJob`. Jobs stay in `jobs` (removed ones flagged) for assertions.
 */
export class FakeQueue<T> {
  readonly jobs: FakeJob<T>[] = [];

  constructor(readonly name: string) {}

  async add(name: string, data: T, opts: { jobId?: string } = {}): Promise<FakeJob<T>> {
    const id = opts.jobId ?? `${this.name}-${this.jobs.length + 1}`;
    const existing = await this.getJob(id);
    if (existing) return existing;
    const job: FakeJob<T> = {
      id,
      name,
      data,
      state: "waiting",
      removed: false,
      getState: async () => job.state,
      remove: async () => {
        job.removed = true;
      },
    };
    this.jobs.push(job);
    return job;
  }

  async getJob(id: string): Promise<FakeJob<T> | undefined> {
    return this.jobs.find((j) => j.id === id && !j.removed);
  }

  /** Data of the jobs still in the queue. */
  get waiting(): T[] {
    return this.jobs.filter((j) => !j.removed).map((j) => j.data);
  }
}
