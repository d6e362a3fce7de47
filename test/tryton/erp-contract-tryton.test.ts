import { erpPortContract } from '../../src/connectors/contract/index.js';
import { makeTrytonHarness } from './tryton-harness.js';

// Runs against a real Tryton 6.0 (installed from Debian if missing); fails loudly if it cannot.
erpPortContract('Tryton 6.0 (real trytond)', makeTrytonHarness);
