// Pins for build.system_packages, resolved at build time: the versions of the
// Debian packages the build just installed, read from the image's dpkg
// database, so that the user can pin them in mlserve.yaml (hadolint's DL3008)
// with the exact `name=version` that works against their apt sources.
import type Docker from 'dockerode'
import {runOnce} from '../docker/index.js'

/** The entries of build.system_packages that name no version (`curl`, not `curl=7.88.1-10`). */
export function unpinnedPackages(packages: readonly string[]): string[] {
  return packages.filter((name) => !name.includes('='))
}

/**
 * `name=version` for each package as installed in `image`, in the order
 * given; packages the image does not have are left out. Empty when the image
 * has no dpkg-query (not a Debian-family base).
 */
export async function installedPins(docker: Docker, image: string, packages: readonly string[]): Promise<string[]> {
  if (packages.length === 0) return []
  const result = await runOnce(docker, {image, command: ['dpkg-query', '--show', '--showformat=${Package}\\t${Version}\\n', ...packages], timeoutMs: 30_000})
  return parsePins(result.output, packages)
}

/** Reads dpkg-query's `name<TAB>version` lines into pins, in the order of `packages` (an `:arch` suffix matches the bare name). */
export function parsePins(output: string, packages: readonly string[]): string[] {
  const versions = new Map<string, string>()
  for (const line of output.split('\n')) {
    const [name, version] = line.trim().split('\t')
    if (name && version) versions.set(name, version)
  }
  return packages.flatMap((name) => {
    const version = versions.get(name) ?? versions.get(name.split(':')[0])
    return version === undefined ? [] : [`${name}=${version}`]
  })
}
