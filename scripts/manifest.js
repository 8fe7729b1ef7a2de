#!/usr/bin/env node
// Writes oclif.manifest.json at the package root, after `tsc` (npm run build):
// every command's id, flags, args and help, as oclif lists them. With it,
// `mlserve --version`, `mlserve --help` and each command load only the command
// that runs, not every command and its dependencies. It is generated, not
// committed (.gitignore): a manifest older than the compiled commands is
// ignored by bin/run.js (src/cli/main.ts), so a stale one cannot hide a flag.
// This is what `oclif manifest` does, with @oclif/core's own Plugin, so the
// build needs no oclif dev package.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Plugin} from '@oclif/core'

const root = fileURLToPath(new URL('..', import.meta.url))
const plugin = new Plugin({root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true})
await plugin.load()
const file = join(root, 'oclif.manifest.json')
writeFileSync(file, `${JSON.stringify(plugin.manifest, null, 2)}\n`)
console.error(`Wrote ${file} (${Object.keys(plugin.manifest.commands).length} commands).`)
