/**
 * INFO's text: `# Section` headers, `field:value` lines, CRLF line ends, a blank line between sections, in
 * Redis's section order. The fields clients parse are there with Redis's names (redis_version, loading,
 * connected_clients, used_memory, keyspace_hits, role, cluster_enabled, db0:keys=…); our own carry a
 * `dcache_` prefix. The backend fills memory, stats, keyspace and cluster (see RespBackend.info).
 */
import * as os from 'node:os';
import type { BackendInfo, InfoFields } from './backend';
import type { RespServerInfo } from './context';

/** The Redis version clients are told: the 7.2 command set these commands follow. */
export const REDIS_VERSION = '7.2.0';

const DEFAULT_SECTIONS = [
  'server',
  'clients',
  'memory',
  'persistence',
  'stats',
  'replication',
  'cpu',
  'modules',
  'errorstats',
  'cluster',
  'keyspace',
];

let packageVersion: string | undefined;
function dcacheVersion(): string {
  if (packageVersion === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      packageVersion = (require('../../package.json') as { version: string }).version;
    } catch {
      packageVersion = 'unknown';
    }
  }
  return packageVersion;
}

/** Redis's bytesToHuman: 1023B, 1.00K, 64.00M… */
export function bytesToHuman(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T', 'P'];
  if (n < 1024) return `${n}B`;
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(2)}${units[i]}`;
}

/**
 * The sections asked for (lower case; empty: the default set; 'all'/'everything': all of them, the
 * backend's own extra sections included). Unknown names are skipped, as Redis does.
 */
export function selectSections(asked: readonly string[], backend: BackendInfo): string[] {
  const extra = Object.keys(backend).filter((name) => !DEFAULT_SECTIONS.includes(name));
  if (asked.length === 0 || asked.includes('default')) return DEFAULT_SECTIONS;
  if (asked.includes('all') || asked.includes('everything')) return [...DEFAULT_SECTIONS, ...extra];
  return [...DEFAULT_SECTIONS, ...extra].filter((name) => asked.includes(name));
}

export function buildInfo(sections: readonly string[], server: RespServerInfo, backend: BackendInfo): string {
  const parts: string[] = [];
  for (const name of sections) {
    const fields = { ...serverFields(name, server), ...backend[name] };
    let text = `# ${name === 'cpu' ? 'CPU' : name.charAt(0).toUpperCase() + name.slice(1)}\r\n`;
    for (const [key, value] of Object.entries(fields)) text += `${key}:${value}\r\n`;
    parts.push(text);
  }
  return parts.join('\r\n');
}

function serverFields(section: string, s: RespServerInfo): InfoFields {
  const stats = s.stats;
  const now = Date.now();
  switch (section) {
    case 'server': {
      const uptime = Math.floor((now - stats.startedAt) / 1000);
      return {
        redis_version: REDIS_VERSION,
        redis_git_sha1: '00000000',
        redis_git_dirty: 0,
        redis_build_id: '0',
        redis_mode: 'standalone',
        os: `${os.type()} ${os.release()} ${os.arch()}`,
        arch_bits: process.arch.includes('64') ? 64 : 32,
        multiplexing_api: 'libuv',
        process_id: process.pid,
        run_id: s.runId,
        tcp_port: s.port,
        server_time_usec: now * 1000,
        uptime_in_seconds: uptime,
        uptime_in_days: Math.floor(uptime / 86400),
        hz: 10,
        executable: process.execPath,
        dcache_version: dcacheVersion(),
        dcache_node_version: process.version,
      };
    }
    case 'clients':
      return {
        connected_clients: stats.connections,
        cluster_connections: 0,
        maxclients: s.maxClients,
        blocked_clients: 0,
        tracking_clients: 0,
      };
    case 'memory': {
      const mem = process.memoryUsage();
      return { used_memory_rss: mem.rss, used_memory_rss_human: bytesToHuman(mem.rss), dcache_heap_used: mem.heapUsed };
    }
    case 'persistence':
      return {
        loading: 0,
        async_loading: 0,
        rdb_changes_since_last_save: 0,
        rdb_bgsave_in_progress: 0,
        rdb_last_save_time: Math.floor(stats.startedAt / 1000),
        aof_enabled: 0,
        aof_rewrite_in_progress: 0,
      };
    case 'stats':
      return {
        total_connections_received: stats.totalConnections,
        total_commands_processed: stats.commands,
        total_net_input_bytes: stats.bytesIn,
        total_net_output_bytes: stats.bytesOut,
        rejected_connections: stats.rejectedConnections,
        total_error_replies: stats.errorReplies,
        dcache_protocol_errors: stats.protocolErrors,
        dcache_command_timeouts: stats.commandTimeouts,
        dcache_backpressure_pauses: stats.backpressurePauses,
        dcache_inflight_pauses: stats.inflightPauses,
        dcache_output_limit_disconnects: stats.outputLimitDisconnects,
        dcache_input_limit_disconnects: stats.inputLimitDisconnects,
        dcache_response_too_large: stats.responseTooLarge,
        dcache_slow_reader_disconnects: stats.slowReaderDisconnects,
        dcache_conn_yields: stats.connYields,
        dcache_idle_kicks: stats.idleKicks,
        dcache_auth_failures: stats.authFailures,
        dcache_noauth_rejections: stats.authRequiredRejections,
        dcache_preauth_limit_disconnects: stats.preauthLimitDisconnects,
        dcache_auth_failure_disconnects: stats.authFailureDisconnects,
      };
    case 'replication':
      return { role: 'master', connected_slaves: 0, master_failover_state: 'no-failover', master_repl_offset: 0 };
    case 'cpu': {
      const cpu = process.cpuUsage();
      return { used_cpu_sys: (cpu.system / 1e6).toFixed(6), used_cpu_user: (cpu.user / 1e6).toFixed(6) };
    }
    case 'cluster':
      // Redis Cluster's client-side routing is not offered: the cluster (if any) is behind this one address.
      return { cluster_enabled: 0 };
    default:
      return {};
  }
}
