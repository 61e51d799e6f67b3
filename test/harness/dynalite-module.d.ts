// dynalite ships no types; this is the one call the harness makes.
declare module 'dynalite' {
  import type { Server } from 'node:http';
  export default function dynalite(options?: { createTableMs?: number; path?: string }): Server;
}
