// Servers by package: npm specs and npx/uvx forms mapped onto a content-addressed store under the home.
export { acquirePackage } from './acquire.js';
export { addPackage } from './add.js';
export { binCommand } from './bin.js';
export { type PackageCommand, packageCommand } from './command-form.js';
export type { PackageErrorCode } from './errors.js';
export { type Launch, launchFor } from './launch.js';
export { hostNpm, type NpmClient, type ResolvedPackage } from './npm-cli.js';
export { type PackagePin, PackagePins } from './pins.js';
export { type PackageSpec, parsePackageSpec, specText, unscopedName } from './spec.js';
export { PackageStore, type StoredPackage } from './store.js';
export { describeDiff, diffTools, isEmptyDiff, type ToolDiff } from './tool-diff.js';
export { treeDigest } from './tree-digest.js';
export { type UpdatePlan, updatePackage } from './update.js';
