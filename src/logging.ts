/** The logging surface every component takes; the platform supplies one per camera, already redacting. */
export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}
