/** Why a server could not be had by package: resolution, install, the store, or a command form we cannot map. */
export type PackageErrorCode =
  | 'PACKAGE_SPEC'
  | 'PACKAGE_RESOLVE'
  | 'PACKAGE_INSTALL'
  | 'PACKAGE_SCRIPTS'
  | 'PACKAGE_INTEGRITY'
  | 'PACKAGE_STORE'
  | 'PACKAGE_BIN'
  | 'PACKAGE_UVX_UNAVAILABLE'
  | 'PACKAGE_NOT_ADDED';
