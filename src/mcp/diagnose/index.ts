// Why a server stopped: its last stderr lines and the grants they suggest.

export { failedCallHint } from './failed-call-hint.js';
export { describeHints, type PermissionHint, permissionHints } from './permission-hints.js';
export { StderrTail } from './stderr-tail.js';
export { describeUnixSocketHint, unixSocketHint } from './unix-socket-hint.js';
