import { createBridge } from '../../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../../src/mcp/http.js';
import { lightUpstream, type TestReceipts, testReceipts } from '../../mcp/helpers.js';
import { RAW_SERVER } from '../../mcp/raw-harness.js';
import { startGateway, type TestGateway } from '../service/harness.js';

/** Both of OACP's HTTP listeners an attack on the shared HTTP layer runs against. */
export interface BothListeners {
  readonly gw: TestGateway;
  /** The MCP bridge over `--http`, in front of the raw test server. */
  readonly bridge: HttpBridge;
  close(): Promise<void>;
}

/** A gateway and an MCP bridge (`--http` on 127.0.0.1, a free port), each on its own listener. */
export async function gatewayAndBridge(): Promise<BothListeners> {
  const gw = await startGateway();
  let receipts: TestReceipts | undefined;
  try {
    receipts = await testReceipts();
    const bridge = await serveHttp(createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts }), {
      host: '127.0.0.1',
      port: 0,
      clientAuth: 'none',
    });
    const opened = receipts;
    return {
      gw,
      bridge,
      close: async () => {
        await bridge.close();
        await opened.close();
        await gw.close();
      },
    };
  } catch (error) {
    await receipts?.close();
    await gw.close();
    throw error;
  }
}
