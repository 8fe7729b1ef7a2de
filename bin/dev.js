#!/usr/bin/env -S node --import tsx --no-warnings
// Runs the TypeScript sources directly, with no build step, through tsx
// (oclif development mode loads src/commands).
import {fileURLToPath} from 'node:url'
import {main} from '../src/cli/main.ts'

await main({root: fileURLToPath(new URL('..', import.meta.url)), development: true})
