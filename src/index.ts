/** Public API: explicit named exports only, so what is public is a decision, not an accident. */
export { hash32 } from './consistent/hash32';
export { HashRing, type HashRingOptions } from './consistent/ring';
export { isNativeAccelerationEnabled } from './consistent/native';
export { Store, SetMode, type StoreOptions, type SetOptions as StoreSetOptions, type StoreStats } from './cache/store';
export {
  Client,
  type ClientOptions,
  type SetOptions,
  type MsetOptions,
  type MsetInput,
  type SetModeName,
  type NodeStatus,
} from './client/index';
export { startNode } from './node/start-node';
export { type CacheNode, type MemberInfo } from './node/cache-node';
export { type NodeOptions } from './server/node-options';
export {
  DCacheError,
  type ErrorCode,
  KeyEmptyError,
  KeyTooLargeError,
  ValueTooLargeError,
  InvalidArgumentError,
  NotIntegerError,
  OverflowError,
  OutOfMemoryError,
  StoreClosedError,
  ProtocolError,
  FrameTooLargeError,
  UnknownOpcodeError,
  TimeoutError,
  ConnectionError,
  QueueFullError,
  ClientClosedError,
  ShuttingDownError,
  ServerError,
  UnavailableError,
  ConfigError,
  AuthError,
  ForbiddenError,
  ResponseTooLargeError,
  OutcomeUnknownError,
} from './errors';
