// Runs the built CLI (bin/run.js) as a user would, capturing both streams.
import {execa, type Options} from 'execa'
import {fileURLToPath} from 'node:url'
import {dirname, join} from 'node:path'

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const cliPath = join(repoRoot, 'bin', 'run.js')

export interface CliResult {
  stdout: string
  stderr: string
  exitCode: number
}

export async function runCli(args: string[], options: Options = {}): Promise<CliResult> {
  const result = await execa(process.execPath, [cliPath, ...args], {
    reject: false,
    env: {NO_COLOR: '1', ...(options.env ?? {})},
    timeout: 120_000,
    ...options,
  })
  return {
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    exitCode: result.exitCode ?? -1,
  }
}

export interface RunningCli {
  child: ReturnType<typeof execa>
  /** The gateway URL from the "Ready: URL" line. */
  url: string
  stderr: () => string
}

/** Starts `mlserve run …args` and resolves once it prints "Ready: URL"; the caller kills it. */
export async function startRunCli(args: string[], env: Record<string, string>, onChild?: (child: ReturnType<typeof execa>) => void): Promise<RunningCli> {
  const child = execa(process.execPath, [cliPath, 'run', ...args], {env, reject: false})
  onChild?.(child)
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    const match = /^Ready: (\S+)$/m.exec(stderr)
    if (match) return {child, url: match[1], stderr: () => stderr}
    if (child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`mlserve run ${args.join(' ')} did not become ready:\n${stderr}`)
}
