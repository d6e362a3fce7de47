export * from './clock.js';
export * from './crm.js';
export * from './erp.js';
export * from './notification.js';
export * from './store.js';
export * from './tms.js';
export * from './wms.js';
