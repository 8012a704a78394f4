// Suites that run the engine as a real child process need the compiled output to match the sources.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  try {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'pipe' });
  } catch {
    // Type errors are reported by the typecheck step; tsc still emitted JavaScript.
  }
}
