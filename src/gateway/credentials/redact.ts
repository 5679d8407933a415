// The by-value redactor lives in core, next to the pattern one, so the logger and answers reach it too.
export { redactSecrets, SECRET_MARK } from '../../core/secret-values.js';
