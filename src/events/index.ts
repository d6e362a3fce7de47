/**
 * The event backbone's public face: event factory, dispatcher and subscriptions, delivery
 * policy pieces, inbound webhooks, dead-letter operations, replay and CLI registration.
 * Other folders import only from here.
 */
export * from './analytics-sink.js';
export * from './circuit-breaker.js';
export * from './cli.js';
export * from './dead-letters.js';
export * from './delivery-policy.js';
export * from './dispatcher.js';
export * from './event-factory.js';
export * from './inbound.js';
export * from './progress-bar.js';
export * from './replay.js';
export * from './subscriptions.js';
export * from './webhook-signature.js';
