/** The console's in-browser receipt verifier (WebCrypto only, no Node imports). */

export { fromBase64, toBase64, toHex } from './bytes.js';
export { parseLogKey } from './note.js';
export { checkPublishedInclusion, type PublishedInput } from './published.js';
export { inclusionProofFromTiles, type TileReader, tilePath } from './tiles.js';
export {
  type BrowserVerification,
  type BrowserVerifyInput,
  pae,
  type VerifyCheck,
  verifyReceiptInBrowser,
} from './verify-receipt.js';
