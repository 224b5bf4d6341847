import type { Migration } from "kysely";
import * as init from "./0001-init.js";
import * as environments from "./0002-environments.js";
import * as secrets from "./0003-secrets.js";
import * as manifest from "./0004-deployment-manifest.js";
import * as dispatch from "./0005-build-dispatch.js";
import * as publicName from "./0006-app-public-name.js";
import * as rollbacks from "./0007-rollbacks.js";
import * as previewTtl from "./0008-preview-ttl-default.js";
import * as forkApprovalSha from "./0009-fork-approval-sha.js";
import * as secretScopes from "./0010-secret-scopes.js";
import * as phases from "./0011-deployment-phases.js";
import * as githubReports from "./0012-github-reports.js";
import * as reportedOutcome from "./0013-reported-outcome.js";
import * as webhookDeliveries from "./0014-webhook-deliveries.js";
import * as servers from "./0015-servers.js";
import * as appArchive from "./0016-app-archive.js";
import * as placements from "./0017-placements.js";
import * as dashboardSessions from "./0019-dashboard-sessions.js";
import * as sleep from "./0020-sleep.js";
import * as domains from "./0021-domains.js";
import * as protectedPreviews from "./0022-protected-previews.js";
import * as execSessions from "./0023-exec-sessions.js";
import * as apiTokens from "./0024-api-tokens.js";

/** Every migration in order; listed statically so a bundled or compiled tree needs no directory scan. */
export const migrations: Record<string, Migration> = {
  "0001-init": init,
  "0002-environments": environments,
  "0003-secrets": secrets,
  "0004-deployment-manifest": manifest,
  "0005-build-dispatch": dispatch,
  "0006-app-public-name": publicName,
  "0007-rollbacks": rollbacks,
  "0008-preview-ttl-default": previewTtl,
  "0009-fork-approval-sha": forkApprovalSha,
  "0010-secret-scopes": secretScopes,
  "0011-deployment-phases": phases,
  "0012-github-reports": githubReports,
  "0013-reported-outcome": reportedOutcome,
  "0014-webhook-deliveries": webhookDeliveries,
  "0015-servers": servers,
  "0016-app-archive": appArchive,
  "0017-placements": placements,
  "0019-dashboard-sessions": dashboardSessions,
  "0020-sleep": sleep,
  "0021-domains": domains,
  "0022-protected-previews": protectedPreviews,
  "0023-exec-sessions": execSessions,
  "0024-api-tokens": apiTokens,
};
