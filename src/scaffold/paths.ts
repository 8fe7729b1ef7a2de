// Where the templates live at run time. They ship in the package's own
// `templates/` folder (package.json "files"), beside `dist/` and `src/`, so the
// package root is found by walking up from this module to the package.json
// named "mlserve". That works from dist/scaffold (after `npm run build`), from
// src/scaffold (under tsx), and through `npm link` or npx, because Node loads
// ES modules by their real path.
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join, parse} from 'node:path'
import {fileURLToPath} from 'node:url'

const PACKAGE_NAME = 'mlserve'
const HERE = dirname(fileURLToPath(import.meta.url))

/** The directory that holds mlserve's package.json, searched upwards from `from`. */
export function findPackageRoot(from: string): string {
  let dir = from
  const {root} = parse(dir)
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as {name?: unknown}).name === PACKAGE_NAME) return dir
      } catch {
        // An unreadable package.json on the way up is not ours; keep walking.
      }
    }
    if (dir === root) throw new Error(`could not find the ${PACKAGE_NAME} package above ${from}; the installation is incomplete`)
    dir = dirname(dir)
  }
}

let root: string | undefined

/** mlserve's package root. */
export function packageRoot(): string {
  root ??= findPackageRoot(HERE)
  return root
}

/** The folder that holds one sub-folder per template. */
export function templatesRoot(): string {
  return join(packageRoot(), 'templates')
}
