/** Keeps the last lines of FFmpeg's stderr so a failure can be explained without logging everything. */
export class StderrRing {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly capacity = 40, private readonly maxLineLength = 500) {}

  push(chunk: string): string[] {
    const text = this.partial + chunk;
    const parts = text.split(/\r?\n|\r/);
    this.partial = (parts.pop() ?? '').slice(-this.maxLineLength);
    const complete: string[] = [];
    for (const raw of parts) {
      const line = raw.trimEnd().slice(0, this.maxLineLength);
      if (!line) continue;
      complete.push(line);
      this.lines.push(line);
      if (this.lines.length > this.capacity) this.lines.shift();
    }
    return complete;
  }

  snapshot(): string[] {
    return this.partial ? [...this.lines, this.partial] : [...this.lines];
  }
}
