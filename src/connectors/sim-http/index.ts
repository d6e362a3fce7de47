/**
 * Connector to a remote simulator server: the simulated estate in another process, reached
 * over HTTP, behind the same ports as the in-process simulators. Used by crash tests (the
 * estate must survive a killed hub) and by `simulators.url` in the configuration.
 */
import type { CrmPort, ErpPort, NotificationPort, TmsPort, WmsPort } from '../../ports/index.js';
import { SimHttpCrm, SimHttpErp, SimHttpNotifications, SimHttpTms, SimHttpWms } from './adapters.js';
import { SimHttpClient, type SimHttpClientOptions } from './client.js';

export { SimHttpCrm, SimHttpErp, SimHttpNotifications, SimHttpTms, SimHttpWms } from './adapters.js';
export { SimHttpClient, type SimHttpClientOptions, simProblemError, simTransportError } from './client.js';

/** What the server says about itself (`GET /sim-api/info`); mirrors `SimPortInfo`. */
export interface RemoteSimInfo {
  seed: number;
  today: string;
  generatedAt: string;
  systems: { crm: string; erp: string; wms: string; tms: string; notifications: string };
  pid: number;
}

/** The remote estate's ports, and the client that serves them. */
export interface RemoteSimulators {
  info: RemoteSimInfo;
  client: SimHttpClient;
  crm: CrmPort;
  erp: ErpPort;
  wms: WmsPort;
  tms: TmsPort;
  notifications: NotificationPort;
  /** The seeded data set the server holds (for the hub's master data); parsed by the caller. */
  fetchDataSet(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Connects to a simulator server: reads its info (fails fast with downstream_outage when it is
 * not there) and builds the five port adapters over one client.
 */
export async function connectRemoteSimulators(options: SimHttpClientOptions): Promise<RemoteSimulators> {
  const client = new SimHttpClient(options);
  let info: RemoteSimInfo;
  try {
    info = await client.get<RemoteSimInfo>('/sim-api/info');
  } catch (err) {
    await client.close();
    throw err;
  }
  return {
    info,
    client,
    crm: new SimHttpCrm(client, info.systems.crm),
    erp: new SimHttpErp(client, info.systems.erp),
    wms: new SimHttpWms(client, info.systems.wms),
    tms: new SimHttpTms(client, info.systems.tms),
    notifications: new SimHttpNotifications(client, info.systems.notifications),
    fetchDataSet: () => client.get<unknown>('/sim-api/data'),
    close: () => client.close(),
  };
}
