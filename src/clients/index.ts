// MCP clients' configuration files: rewrite them to start servers through OACP, restore, check.
export { checkClient, type DoctorFinding } from './doctor.js';
export { isWrapped, type OacpLauncher, type ServerEntry, wrapEntry } from './entry.js';
export type { ClientErrorCode } from './errors.js';
export { backupPath, type InstallResult, installClient, uninstallClient } from './install.js';
export { CLIENTS, type ClientFormat, type ClientName, defaultConfigPath, FORMATS } from './locations.js';
