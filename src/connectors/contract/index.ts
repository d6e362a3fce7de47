/** Public face of the connector contract suites (tests import from here). */
export { type ErpContractHarness, erpPortContract, type FaultyErp } from './erp-port-contract.js';
