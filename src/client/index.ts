/** The client SDK: explicit named exports (src/index.ts re-exports what is public). */
export { Client, type SetOptions, type MsetOptions, type SetModeName, type NodeStatus } from './client';
export { type ClientOptions } from './client-options';
export { type MsetInput } from './multi-plan';
export { type Bytes } from './arg-checks';
export { NodeConnection } from './connection';
export { type NodeConnectionOptions, type ConnectionState } from './connection-options';
export { type RawResponse } from './results';
export { type NodeAddress, parseNodeAddress, parseNodeList } from './node-address';
