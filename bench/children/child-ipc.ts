/** Message a bench child sends its parent once it listens. */
export interface ListeningMessage {
  type: 'listening';
  port: number;
}

/** Tells the parent the child's port, and exits when the parent goes away (no orphans). */
export function announceListening(port: number): void {
  process.on('disconnect', () => process.exit(0));
  const message: ListeningMessage = { type: 'listening', port };
  process.send?.(message);
}
