/** Rules for droid server names and labels, shared by the servers API and berth.yaml's `placement`. */

/** The built-in server: the engine in BERTH_DOCKER_HOST. It cannot be registered or removed. */
export const LOCAL_SERVER = "local";

/** 1 to 32 lower case letters, digits and inner hyphens (like droid-1). */
export const SERVER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
export const LABEL_KEY = /^[a-z0-9](?:[a-z0-9._/-]{0,61}[a-z0-9])?$/;
export const LABEL_VALUE = /^[A-Za-z0-9._-]{0,63}$/;
export const MAX_LABELS = 32;
