/** What a command sees of its connection and server, besides the backend. */
import type { MaybePromise, RespArgs, RespBackend } from './backend';
import type { RespStats } from './resp-stats';
import type { RespWriter } from './writer';

/** Per-connection facts (CLIENT ID/SETNAME/INFO/LIST, HELLO). */
export interface ClientState {
  readonly id: number;
  name: string;
  libName: string;
  libVer: string;
  readonly createdAt: number;
  readonly addr: string;
  readonly laddr: string;
}

/** Server-wide facts (INFO, CONFIG GET, CLIENT LIST). */
export interface RespServerInfo {
  readonly stats: RespStats;
  readonly runId: string;
  readonly port: number;
  readonly maxClients: number;
  /** CONFIG GET answers: lower-case parameter → value. */
  readonly config: ReadonlyMap<string, string>;
  clients(): Iterable<ClientState>;
}

export interface CommandContext {
  readonly backend: RespBackend;
  readonly server: RespServerInfo;
  readonly client: ClientState;
  /** QUIT: stop reading; close once every reply so far is written. */
  quit(): void;
  /** True while the server has a password and this connection has not given it (only AUTH, HELLO, QUIT run). */
  readonly needsAuth: boolean;
  /**
   * AUTH / HELLO AUTH: checks argument `password` (and `user`, -1 when absent) against the server's password.
   * 'nopass': the server has none and no user was given (Redis's "called without any password configured").
   * Too many wrong passwords close the connection after the reply.
   */
  authenticate(a: RespArgs, user: number, password: number): 'ok' | 'wrong' | 'nopass';
}

/** A reply that is not known yet: the promise gives the function that writes it. */
export type ReplyFn = (w: RespWriter) => void;
export type Deferred = Promise<ReplyFn>;

/** Runs a command whose arity was checked; writes its reply, or returns a Deferred one. May throw before writing. */
export type CommandRun = (c: CommandContext, a: RespArgs, w: RespWriter) => Deferred | undefined;

/** Writes `value` with `encode` now, or, when it is a promise, returns the Deferred reply. */
export function reply<T>(value: MaybePromise<T>, w: RespWriter, encode: (w: RespWriter, v: T) => void): Deferred | undefined {
  if (value instanceof Promise) return value.then((v: T) => (out: RespWriter) => encode(out, v));
  encode(w, value);
  return undefined;
}
