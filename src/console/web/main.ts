import { OacpConsole } from './console-app.js';

// The one registration; everything else is built per <oacp-console> instance.
if (customElements.get('oacp-console') === undefined) customElements.define('oacp-console', OacpConsole);
