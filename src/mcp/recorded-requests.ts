/**
 * Receipts are written with the tool-call predicate for more than tool
 * calls; `tool.name` then says what was recorded (docs/receipts.md):
 */

/** A request the server sent the client (sampling, roots, elicitation). */
export const SERVER_REQUEST_PREFIX = 'server-request:';

/** A client request of another method than tools/call, refused before forwarding (over the limits). */
export const CLIENT_REQUEST_PREFIX = 'client-request:';

/** A client notification refused before forwarding (over the limits). */
export const CLIENT_NOTIFICATION_PREFIX = 'client-notification:';
