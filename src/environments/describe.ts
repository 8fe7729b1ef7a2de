// An environment in words, for the commands' human output.
import type {Environment} from './store.js'

/** One environment on one line: the engine, where it runs, and its registry. */
export function describeEnvironment(environment: Environment): string {
  const parts: string[] = [environment.engine]
  if (environment.engine === 'swarm') {
    parts.push(environment.dockerHost ?? 'local engine', `gateway port ${environment.gatewayPort}`)
  } else {
    parts.push(`context ${environment.context ?? '(current)'}`, `namespace ${environment.namespace}`)
    if (environment.kubeconfig) parts.push(`kubeconfig ${environment.kubeconfig}`)
  }
  parts.push(environment.registry ? `registry ${environment.registry}` : 'no registry')
  if (environment.spotLabel) parts.push(`spot ${environment.spotLabel.key}=${environment.spotLabel.value}`)
  return parts.join(' · ')
}
