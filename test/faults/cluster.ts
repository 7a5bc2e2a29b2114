/** The fault suite's cluster: CLI node processes on distinct loopback addresses, killed by PID at the end. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { HashRing } from '../../src/consistent/ring';
import { stateIn, topologyOf } from '../helpers/topology';

const MAIN = path.join(__dirname, '..', '..', 'src', 'main.ts');

export interface MemberNode {
  host: string;
  port: number;
  address: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

export class FaultCluster {
  nodes: MemberNode[] = [];
  private readonly ring = new HashRing();

  constructor(
    private readonly hosts: string[],
    private readonly port: number,
    /** Copies of each key (--replicas on every node). */
    readonly replicas = 1,
  ) {}

  async start(): Promise<void> {
    const seed = `${this.hosts[0]}:${this.port}`;
    this.nodes = this.hosts.map((host, i) => this.spawnNode(host, i === 0 ? [] : ['--join', seed]));
    this.ring.setNodes(this.nodes.map((node) => node.address));
    await this.waitForAllAlive(20_000);
  }

  /** The owner of a key on the full cluster's ring (what every view agrees on before a fault). */
  ownerBeforeFault(key: string): string | undefined {
    return this.ring.lookup(key);
  }

  /** True when `id` holds a copy of the key (its owner or a replica) on the full cluster's ring. */
  holdsBeforeFault(key: string, id: string): boolean {
    return this.ring.lookupN(key, this.replicas).includes(id);
  }

  signal(node: MemberNode, signal: NodeJS.Signals): void {
    if (node.child.pid !== undefined && node.child.exitCode === null) process.kill(node.child.pid, signal);
  }

  /** Starts the node again on the same address (after SIGKILL or SIGTERM). */
  async restart(node: MemberNode): Promise<void> {
    await node.exited;
    // In place: callers and killAll() hold this same object, which now points at the new process.
    // Through another member: a restarted seed joining through itself would start a cluster of its own.
    const seed = this.hosts.find((host) => host !== node.host) ?? this.hosts[0]!;
    Object.assign(node, this.spawnNode(node.host, ['--join', `${seed}:${this.port}`]));
  }

  /** ms until every observer sees `target` in one of `states`. */
  async waitForState(observers: MemberNode[], target: MemberNode, states: string[], timeoutMs: number): Promise<number> {
    const started = Date.now();
    for (;;) {
      const views = await Promise.all(observers.map((node) => topologyOf(node.address, 300)));
      if (views.every((view) => states.includes(stateIn(view, target.address) ?? ''))) return Date.now() - started;
      if (Date.now() - started > timeoutMs) throw new Error(`${target.address} not ${states.join('/')} everywhere within ${timeoutMs} ms`);
      await delay(50);
    }
  }

  async waitForAllAlive(timeoutMs: number): Promise<number> {
    const started = Date.now();
    for (;;) {
      const views = await Promise.all(this.nodes.map((node) => topologyOf(node.address, 300)));
      const ok = views.every(
        (view) =>
          view !== undefined &&
          view.members.length === this.nodes.length &&
          view.members.every((m) => m.state === 'alive') &&
          view.checksum === views[0]!.checksum,
      );
      if (ok) return Date.now() - started;
      if (Date.now() - started > timeoutMs) throw new Error(`the cluster did not converge to all-alive within ${timeoutMs} ms`);
      await delay(100);
    }
  }

  /** Polls every node's view; any healthy member seen as dead anywhere is a false positive. */
  watchFalsePositives(healthy: MemberNode[]): { falsePositives: Set<string>; stop: () => void } {
    const falsePositives = new Set<string>();
    let running = true;
    const ids = healthy.map((node) => node.address);
    void (async () => {
      while (running) {
        const views = await Promise.all(healthy.map((node) => topologyOf(node.address, 300)));
        for (const view of views) for (const id of ids) if (stateIn(view, id) === 'dead') falsePositives.add(id);
        await delay(100);
      }
    })();
    return { falsePositives, stop: () => (running = false) };
  }

  killAll(): void {
    for (const node of this.nodes) {
      try {
        this.signal(node, 'SIGKILL');
      } catch {
        // Exited already (its exit not seen yet).
      }
    }
  }

  private spawnNode(host: string, extra: string[]): MemberNode {
    const child = spawn(
      process.execPath,
      [
        '-r',
        'tsx/cjs',
        MAIN,
        '--addr',
        `${host}:${this.port}`,
        '--log-level',
        process.env['DCACHE_FAULTS_LOG_LEVEL'] ?? 'warn',
        '--replicas',
        String(this.replicas),
        ...extra,
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { host, port: this.port, address: `${host}:${this.port}`, child, exited };
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
