#!/usr/bin/env -S node --import tsx --no-warnings
// Runs the TypeScript sources directly, with no build step, through tsx
// (oclif development mode loads src/commands).
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
