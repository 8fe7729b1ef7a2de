// Offline validation: each object checks itself against the OpenAPI schema
// its library carries (kubernetes-models for Kubernetes' own kinds, and the
// CRDs' schemas for KEDA and the Gateway API). The first failure is a
// MLS_K8S_INVALID naming the object and the path in it.
import {mlserveError} from '../errors.js'
import type {KubernetesManifest} from './manifests.js'

/** "Deployment iris" (namespace left out: every object of one deploy shares it). */
export function objectName(object: {kind?: string; metadata?: {name?: string}}): string {
  return `${object.kind ?? '(no kind)'} ${object.metadata?.name ?? '(no name)'}`
}

interface SchemaError {
  instancePath?: string
  message?: string
}

/** Validates every object; throws MLS_K8S_INVALID for the first that fails, with each of its schema errors as details. */
export function validateManifests(objects: KubernetesManifest[]): void {
  for (const object of objects) validateManifest(object)
}

export function validateManifest(object: KubernetesManifest): void {
  try {
    object.validate()
  } catch (error) {
    const errors = ((error as {errors?: SchemaError[]}).errors ?? []).filter((entry) => entry.instancePath !== undefined)
    const first = errors[0]
    const path = first?.instancePath ? pathOf(first.instancePath) : '(the object)'
    const reason = first?.message ?? (error as Error).message
    throw mlserveError(
      'MLS_K8S_INVALID',
      {object: objectName(object), path, reason},
      {details: errors.map((entry) => `${pathOf(entry.instancePath ?? '')}: ${entry.message ?? 'invalid'}`), cause: error},
    )
  }
}

/** A JSON pointer (/spec/template/spec/containers/0/ports/0/containerPort) as a field path (spec.template.spec.containers[0].ports[0].containerPort). */
export function pathOf(pointer: string): string {
  return pointer
    .split('/')
    .filter((part) => part !== '')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^[0-9]+$/.test(part) ? `${path}[${part}]` : path === '' ? part : `${path}.${part}`), '')
}
