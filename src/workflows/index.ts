export * from './engine/index.js';
export * from './quote-to-order/index.js';
