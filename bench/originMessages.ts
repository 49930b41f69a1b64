/** What `originProcess` and the bench say to each other over the IPC channel. */
import type { RouteKind } from '../test/helpers/origin/stats.js';

export type OriginRequest =
  | { type: 'stats' }
  | { type: 'reset' }
  /** Serve blob bodies at about this rate from now on (a WAN upstream); undefined: full speed again. */
  | { type: 'throttle'; bytesPerSecond: number | undefined };

export interface OriginReady {
  type: 'ready';
  url: string;
  cdnUrl: string;
  /** The commit `main` points to. */
  commit: string;
  etag: string;
  sha256: string;
  size: number;
  /** The generated file the origin serves (on disk, shared by every bench on the machine). */
  path: string;
}

export interface OriginStatsMessage {
  type: 'stats';
  requests: Record<RouteKind, number>;
  /** Blob body bytes handed to sockets since the last reset, all blobs. */
  bodyBytes: number;
  /** The same for the one file served. */
  blobBytes: number;
}

export type OriginMessage = OriginReady | OriginStatsMessage;
