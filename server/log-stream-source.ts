import type { Db, DeploymentState } from "../store/db.js";

/** A deployment's state and the log chunks after a cursor, read together. */
export interface LogSlice {
  state: DeploymentState;
  /** In id order; ids are bigint strings. */
  chunks: { id: string; chunk: string }[];
}

/** Reads one LogSlice: at most `limit` chunks with id > after; undefined when the deployment is gone. */
export type LogSource = (deploymentId: number, after: string, limit: number) => Promise<LogSlice | undefined>;

/**
 * The Postgres LogSource: one statement per poll, so the state and the chunks come from one snapshot
 * (a final state is never read after chunks that were committed before it) and a poll takes the pool
 * once.
 */
export function dbLogSource(db: Db): LogSource {
  return async (deploymentId, after, limit) => {
    const rows = await db
      .selectFrom("deployments as d")
      .leftJoinLateral(
        (eb) =>
          eb
            .selectFrom("build_logs")
            .select(["build_logs.id", "build_logs.chunk"])
            .whereRef("build_logs.deployment_id", "=", "d.id")
            .where("build_logs.id", ">", after)
            .orderBy("build_logs.id")
            .limit(limit)
            .as("l"),
        (join) => join.onTrue(),
      )
      .select(["d.state", "l.id", "l.chunk"])
      .where("d.id", "=", deploymentId)
      .orderBy("l.id")
      .execute();
    const first = rows[0];
    if (!first) return undefined;
    const chunks = rows.flatMap((r) => (r.id !== null && r.chunk !== null ? [{ id: String(r.id), chunk: r.chunk }] : []));
    return { state: first.state, chunks };
  };
}
