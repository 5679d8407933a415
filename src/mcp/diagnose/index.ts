// Why a server stopped: its last stderr lines and the grants they suggest.
export { describeHints, type PermissionHint, permissionHints } from './permission-hints.js';
export { StderrTail } from './stderr-tail.js';
