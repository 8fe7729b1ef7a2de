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
