export * from './errors.js';
export * from './events.js';
export * from './ids.js';
export * from './json-schema.js';
export * from './order.js';
export * from './order-state.js';
export * from './returns.js';
export * from './schemas.js';
