// The objects as YAML: one multi-document stream (for stdout), or one file per
// object in a directory (`deploy --dry-run --out DIR`), named KIND-NAME.yaml.
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {stringify} from 'yaml'
import type {KubernetesManifest} from './manifests.js'

function documentOf(object: KubernetesManifest): string {
  // lineWidth 0: the plan JSON and the PromQL stay on the lines they were written on.
  return stringify(object.toJSON(), {lineWidth: 0})
}

/** Every object as one multi-document YAML stream, `---` between them. */
export function manifestsYaml(objects: KubernetesManifest[]): string {
  return objects.map((object) => `---\n${documentOf(object)}`).join('')
}

/** The file an object is written to: deployment-iris.yaml. */
export function manifestFileName(object: Pick<KubernetesManifest, 'kind' | 'metadata'>): string {
  return `${object.kind.toLowerCase()}-${object.metadata?.name ?? 'unnamed'}.yaml`
}

/** Writes each object to DIR/KIND-NAME.yaml (DIR is made when missing); returns the paths in the objects' order. */
export function writeManifestFiles(dir: string, objects: KubernetesManifest[]): string[] {
  mkdirSync(dir, {recursive: true})
  return objects.map((object) => {
    const file = join(dir, manifestFileName(object))
    writeFileSync(file, documentOf(object))
    return file
  })
}
