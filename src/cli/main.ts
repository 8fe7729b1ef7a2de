// The CLI's entry (bin/run.js): oclif's own `execute`, plus what it leaves to
// the application. A first word that names no command ends as
// MLS_UNKNOWN_COMMAND, under --json as one error object, exit 2. And the
// command manifest (oclif.manifest.json, written by `npm run build`) is used
// only while it is newer than every compiled command: a manifest older than
// the code would list stale flags, so then the commands are read from dist/.
import {existsSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {Config, Errors, Plugin, flush, handle, run} from '@oclif/core'
import {reportError, wantsJson, wantsVerbose} from './report-error.js'
import {unknownCommand} from './usage-errors.js'

export interface MainOptions {
  /** The package root (where package.json is). */
  root: string
  /** oclif's development mode (bin/dev.js: TypeScript sources through tsx). */
  development?: boolean
}

export async function main(options: MainOptions): Promise<void> {
  const argv = process.argv.slice(2)
  if (options.development) process.env.NODE_ENV = 'development'
  try {
    const config = await loadConfig(options.root, Boolean(options.development))
    try {
      await run(argv, config)
      await flush()
    } catch (error) {
      const word = /^command (\S+) not found$/.exec((error as Error).message)?.[1]
      if (!(error instanceof Errors.CLIError) || word === undefined) throw error
      // Ids of commands in topics (traffic:set) as a user types them (traffic set).
      const err = unknownCommand(word.replaceAll(':', ' '), config.commandIDs.map((id) => id.replaceAll(':', ' ')))
      reportError(err, {json: wantsJson(argv), verbose: wantsVerbose(argv)})
      process.exitCode = err.exitCode
    }
  } catch (error) {
    await handle(error as Error)
  }
}

async function loadConfig(root: string, development: boolean): Promise<Config> {
  // In development the commands are the TypeScript sources, which the manifest (made from dist/) does not describe.
  if (!development && !manifestIsStale(root)) return Config.load(root)
  const plugin = new Plugin({root, isRoot: true, ignoreManifest: true})
  await plugin.load()
  return Config.load({root, plugins: new Map([[plugin.name, plugin]])})
}

/** Whether oclif.manifest.json exists and is older than a compiled command. */
function manifestIsStale(root: string): boolean {
  const manifest = join(root, 'oclif.manifest.json')
  if (!existsSync(manifest)) return false
  const written = statSync(manifest).mtimeMs
  const commands = join(root, 'dist', 'commands')
  try {
    // Recursive: commands in a topic (traffic set) live in a folder of their own.
    return readdirSync(commands, {recursive: true, encoding: 'utf8'}).some((name) => name.endsWith('.js') && statSync(join(commands, name)).mtimeMs > written)
  } catch {
    return false
  }
}
