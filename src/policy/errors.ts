/** Why a policy could not be loaded; evaluation problems are denies, never errors. */
export type PolicyErrorCode =
  | 'POLICY_SYNTAX'
  | 'POLICY_SCHEMA'
  | 'POLICY_DUPLICATE_ID'
  | 'POLICY_READ'
  | 'PINS_READ'
  | 'PINS_WRITE';
